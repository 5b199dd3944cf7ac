import os
import tempfile
import unittest
from pathlib import Path

from confkit import loader


class WorkdirTests(unittest.TestCase):
    def test_project_file_from_another_directory(self):
        workdir = tempfile.mkdtemp()
        Path(workdir, "confkit.ini").write_text("[app]\nname = elsewhere\n")
        os.chdir(workdir)
        self.assertEqual(loader.load()["name"], "elsewhere")
