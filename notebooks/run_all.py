#!/usr/bin/env python3
"""Executes every notebook headless (nbclient) against the warehouse in CONVEYOR_WAREHOUSE
(default: the demo's), failing on the first error. Outputs are not written back, so the
committed notebooks stay free of bulky outputs."""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

here = Path(__file__).resolve().parent
failed = 0
books = sorted(here.glob("*.ipynb"))
for path in books:
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
        print(f"ok      {path.name}")
    except Exception as e:  # noqa: BLE001 - report every notebook's failure
        failed += 1
        print(f"FAILED  {path.name}: {e}", file=sys.stderr)
print(f"notebooks: {len(books) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
