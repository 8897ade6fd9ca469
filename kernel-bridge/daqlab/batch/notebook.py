"""Run a notebook with parameters, papermill-style, with nbclient.

    python -m daqlab.batch.notebook --notebook in.ipynb --parameters params.json --output out.ipynb

The first code cell tagged ``parameters`` holds the defaults; a cell tagged
``injected-parameters`` with the given values is inserted after it (at the
top when no cell is tagged), replacing one a previous run injected. The
executed notebook is written to ``--output`` — also when a cell fails, so the
error can be read there; the exit code is then 1 and stderr names the cell.
Bad input (missing notebook, invalid parameters) exits with 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


class NotebookInputError(Exception):
    """The notebook or the parameters cannot be used (exit code 2)."""


class CellFailed(Exception):
    """A cell raised while the notebook ran (exit code 1)."""

    def __init__(self, index: int, cell_source: str, ename: str, evalue: str):
        first = next((line for line in cell_source.splitlines() if line.strip()), "")
        super().__init__(f"cell {index} ({first.strip()[:60]!r}) failed: {ename}: {evalue}")
        self.index, self.ename, self.evalue = index, ename, evalue


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def inject_parameters(nb, parameters: dict[str, Any]):
    """Insert the parameters cell (in place) and return the notebook."""
    import nbformat

    for name in parameters:
        if not isinstance(name, str) or not name.isidentifier():
            raise NotebookInputError(f"parameters: {name!r} is not a valid Python name")
    lines = ["# Parameters (injected by daqlab.batch.notebook)"]
    for name, value in parameters.items():
        lines.append(f"{name} = {value!r}")
    cell = nbformat.v4.new_code_cell("\n".join(lines) + "\n")
    cell.metadata["tags"] = [INJECTED_TAG]
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    where = next((k for k, c in enumerate(nb.cells) if c.cell_type == "code" and PARAMETERS_TAG in _tags(c)), None)
    nb.cells.insert(0 if where is None else where + 1, cell)
    return nb


def execute_notebook(notebook: str, parameters: dict[str, Any], output: str, *, kernel_name: str | None = None,
                     timeout: float | None = None, cwd: str | None = None):
    """Run ``notebook`` with ``parameters`` and write the executed copy to ``output``.

    Raises :class:`NotebookInputError` for bad input and :class:`CellFailed`
    (naming the cell, counted from 0) when a cell raises."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    try:
        nb = nbformat.read(notebook, as_version=4)
    except FileNotFoundError:
        raise NotebookInputError(f"--notebook: {notebook}: no such file") from None
    except Exception as err:  # nbformat raises several kinds for a file that is not a notebook
        raise NotebookInputError(f"--notebook: {notebook} is not a Jupyter notebook: {err}") from None
    inject_parameters(nb, parameters)
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": cwd or os.path.dirname(os.path.abspath(notebook))}})
    failure = None
    try:
        client.execute()
    except CellExecutionError as err:
        failure = err
    finally:
        nbformat.write(nb, output)
    if failure is not None:
        for k, c in enumerate(nb.cells):
            errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                raise CellFailed(k, c.source, errors[0].get("ename", "Error"), errors[0].get("evalue", ""))
        raise CellFailed(-1, "", failure.ename or "Error", failure.evalue or str(failure))
    return nb


def _read_parameters(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise NotebookInputError(f"--parameters: {path}: no such file") from None
    except json.JSONDecodeError as err:
        raise NotebookInputError(f"--parameters: {path} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise NotebookInputError(f"--parameters: {path} must hold a JSON object (name → value)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daqlab.batch.notebook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", required=True, help="notebook to run")
    parser.add_argument("--parameters", required=True, help="JSON object: parameter name → value")
    parser.add_argument("--output", required=True, help="where to write the executed notebook")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's, else python3)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per cell (default: none)")
    parser.add_argument("--cwd", default=None, help="working directory of the kernel (default: the notebook's folder)")
    args = parser.parse_args(argv)
    prog = "daqlab.batch.notebook"
    try:
        execute_notebook(args.notebook, _read_parameters(args.parameters), args.output,
                         kernel_name=args.kernel, timeout=args.timeout, cwd=args.cwd)
    except NotebookInputError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except CellFailed as err:
        print(f"{prog}: error: {err} (executed notebook: {args.output})", file=sys.stderr)
        return 1
    print(f"executed {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
