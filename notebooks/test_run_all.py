#!/usr/bin/env python3
"""run_all.py's checks on tiny fixture notebooks (run by ci/test.sh before the real
notebooks): a cell that draws without displaying an image fails, the same cell under the
inline backend passes, and cells that draw nothing are never flagged; a section skipped by
conveyor_tables.have fails only with --no-skips.

    python3 notebooks/test_run_all.py
"""

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_all  # noqa: E402 - the module under test lives beside this file

SHOW_LINE = 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title("x")\nplt.show()'


def run_cells(*sources, no_skips=False):
    """Writes a notebook of these code cells to a temporary folder and runs it through
    run_all.run_notebook; returns its problems."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fixture.ipynb"
        nbformat.write(nb, path)
        return run_all.run_notebook(path, no_skips)


class ChartCheck(unittest.TestCase):
    def test_agg_backend_chart_fails(self):
        # What every notebook did: the chart is drawn into Agg and never displayed.
        problems = run_cells('import matplotlib\nmatplotlib.use("Agg")', SHOW_LINE)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("code cell 2 created 1 matplotlib figure(s) but displayed no image", problems[0])

    def test_inline_backend_chart_passes(self):
        self.assertEqual(run_cells("%matplotlib inline", SHOW_LINE), [])

    def test_chart_drawn_by_pandas_under_agg_fails(self):
        # No plt. in the source: the check does not depend on how the cell is spelled.
        problems = run_cells(
            'import matplotlib\nmatplotlib.use("Agg")',
            "import pandas as pd\npd.DataFrame({'a': [1, 3, 2]}).plot()",
        )
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("code cell 2 created 1 matplotlib figure(s)", problems[0])

    def test_figure_never_handed_to_pyplot_fails_even_inline(self):
        # The inline backend shows pyplot's figures only; a bare Figure is drawn and lost.
        problems = run_cells(
            "%matplotlib inline",
            "from matplotlib.figure import Figure\nFigure().add_subplot().plot([1, 2])\nprint('drawn')",
        )
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("code cell 2", problems[0])

    def test_each_cell_answers_for_its_own_figures(self):
        # Cell 2 shows its chart; cell 4, after the backend is forced to Agg, does not;
        # cell 3 prints and cell 5 skips its chart (a section whose table is absent).
        problems = run_cells(
            "%matplotlib inline",
            SHOW_LINE,
            "print('no chart here')",
            'import matplotlib\nmatplotlib.use("Agg")\n' + SHOW_LINE,
            "if False:\n    plt.plot([1, 2])\n    plt.show()",
        )
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("code cell 4 created 1", problems[0])

    def test_two_figures_in_one_cell_are_counted(self):
        problems = run_cells(
            'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.figure()\nplt.figure()'
        )
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("code cell 1 created 2 matplotlib figure(s)", problems[0])

    def test_error_in_a_cell_fails(self):
        problems = run_cells("%matplotlib inline", "raise ValueError('table missing')")
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("table missing", problems[0])


class SkippedSections(unittest.TestCase):
    """conveyor_tables.have over a warehouse with one table, `present_mart` (only its
    committed state is read, never its file)."""

    CELL = f"""\
import sys
sys.path.insert(0, {str(HERE)!r})
from conveyor_tables import have
assert have("present_mart", dataset="touchpoints"), "a table that is there runs its section"
if have("present_mart", "absent_mart", dataset="touchpoints"):
    raise AssertionError("the section ran without absent_mart")
print("after the skipped section")"""

    def setUp(self):
        self.warehouse = tempfile.TemporaryDirectory()
        state = Path(self.warehouse.name) / "_conveyor" / "tables" / "present_mart.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps({"files": ["marts/present_mart/part-0.parquet"]}))
        self.saved = os.environ.get("CONVEYOR_WAREHOUSE")
        os.environ["CONVEYOR_WAREHOUSE"] = self.warehouse.name  # the kernel inherits it

    def tearDown(self):
        if self.saved is None:
            del os.environ["CONVEYOR_WAREHOUSE"]
        else:
            os.environ["CONVEYOR_WAREHOUSE"] = self.saved
        self.warehouse.cleanup()

    def test_a_skipped_section_passes(self):
        self.assertEqual(run_cells(self.CELL), [])

    def test_a_skipped_section_fails_with_no_skips(self):
        problems = run_cells(self.CELL, no_skips=True)
        self.assertEqual(problems, ["code cell 1 skipped its section: no table absent_mart (--no-skips)"])


if __name__ == "__main__":
    unittest.main()
