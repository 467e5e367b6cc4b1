#!/usr/bin/env python3
"""Executes every notebook headless (nbclient) against the warehouse in CONVEYOR_WAREHOUSE
(default: the demo's), failing on the first error in a notebook and on a chart that does not
show. Outputs are not written back, so the committed notebooks stay free of bulky outputs.

A chart that does not show: a cell that draws must leave an image among its outputs. "Draws"
is decided while the cell runs rather than by reading its source, so a section that skips
because its table is absent is not a failure and a chart drawn in any way (pyplot, pandas'
.plot, seaborn, a Figure made by hand) is caught: before the notebook's own cells, a probe
cell counts the matplotlib Figures created and, after each cell that created one, adds a
marker output to that cell. A marked cell without an image/png or image/svg+xml output fails
(this is what `matplotlib.use("Agg")` did: figures drawn, nothing displayed). With the inline
backend (`%matplotlib inline`) every figure left open at the end of a cell is displayed.

A section skipped because its table is absent (conveyor_tables.have) is fine for a user's
warehouse, which may lack the optional datasets; with --no-skips it fails, so that CI, whose
demo warehouse has every dataset, runs every section.

    python3 notebooks/run_all.py                         # every notebooks/*.ipynb
    python3 notebooks/run_all.py --no-skips a.ipynb ...  # only these, every section run
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from conveyor_tables import SKIPPED_MIME

HERE = Path(__file__).resolve().parent
MARK = "application/vnd.conveyor.figures+json"
IMAGES = ("image/png", "image/svg+xml")
PROBE_TAG = "conveyor-figure-probe"
PROBE = f"""\
def _conveyor_figure_probe():
    import matplotlib.figure
    from IPython import get_ipython
    from IPython.display import display

    created = [0]
    init = matplotlib.figure.Figure.__init__

    def counting_init(self, *args, **kwargs):
        created[0] += 1
        init(self, *args, **kwargs)

    def mark(result):
        if created[0]:
            display({{{MARK!r}: {{"figures": created[0]}}}}, raw=True)
            created[0] = 0

    matplotlib.figure.Figure.__init__ = counting_init
    get_ipython().events.register("post_run_cell", mark)


_conveyor_figure_probe()
del _conveyor_figure_probe
"""


def undisplayed_figures(nb):
    """(cell number counted from 1 among code cells, figures created) for each cell that
    created figures and has no image output."""
    problems = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        outputs = cell.get("outputs", [])
        figures = sum(o["data"][MARK]["figures"] for o in outputs if MARK in o.get("data", {}))
        shown = any(kind in o.get("data", {}) for o in outputs for kind in IMAGES)
        if figures and not shown:
            problems.append((number, figures))
    return problems


def skipped_sections(nb):
    """(cell number counted from 1 among code cells, missing tables) for each cell that
    skipped its section."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    return [
        (number, o["data"][SKIPPED_MIME]["missing"])
        for number, cell in enumerate(code_cells, start=1)
        for o in cell.get("outputs", [])
        if SKIPPED_MIME in o.get("data", {})
    ]


def run_notebook(path, no_skips=False):
    """Executes the notebook at `path` (working directory: its folder) and returns its
    problems as sentences; empty when it ran, every chart showed and (with `no_skips`)
    no section was skipped."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE, metadata={"tags": [PROBE_TAG]}))
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(Path(path).parent)}}
    )
    try:
        client.execute()
    except Exception as e:  # noqa: BLE001 - report every notebook's failure
        return [f"{e}"]
    finally:
        del nb.cells[0]
    problems = [
        f"code cell {number} created {figures} matplotlib figure(s) but displayed no image "
        f"(is the backend forced to Agg instead of `%matplotlib inline`?)"
        for number, figures in undisplayed_figures(nb)
    ]
    if no_skips:
        problems += [
            f"code cell {number} skipped its section: no table {', '.join(missing)} (--no-skips)"
            for number, missing in skipped_sections(nb)
        ]
    return problems


def main(args):
    no_skips = "--no-skips" in args
    books = [Path(a).resolve() for a in args if a != "--no-skips"] or sorted(HERE.glob("*.ipynb"))
    failed = 0
    for path in books:
        problems = run_notebook(path, no_skips)
        if problems:
            failed += 1
            for problem in problems:
                print(f"FAILED  {path.name}: {problem}", file=sys.stderr)
        else:
            print(f"ok      {path.name}")
    print(f"notebooks: {len(books) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
