"""How the release binary is linked (Package.swift's linkSettings): full RELRO, no exported
symbols, and the functions of symbol-order.txt placed first."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import yimmo_bin

ORDER_FILE = Path(__file__).resolve().parents[2] / "Sources" / "yimmo-wsgi" / "symbol-order.txt"


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def test_all_symbols_are_bound_at_start():
    dynamic = _run("readelf", "-d", yimmo_bin())
    assert "BIND_NOW" in dynamic


def test_the_executable_exports_no_symbols():
    defined = [line for line in _run("readelf", "--dyn-syms", "-W", yimmo_bin()).splitlines()[3:]
               if line.split() and line.split()[6] != "UND" and line.split()[3] != "SECTION"]
    assert defined == []


def test_the_first_listed_function_opens_the_text():
    addresses = {}
    for line in _run("nm", yimmo_bin()).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tT":
            addresses.setdefault(parts[2], int(parts[0], 16))
    listed = [name for name in ORDER_FILE.read_text().split() if name in addresses]
    assert len(listed) >= 100, "most of the order file should name functions of this binary"
    # The list moves whole input sections (most of the standard library is one), so only its
    # head is sure to sit exactly in place: first in .text, before every other function.
    assert addresses[listed[0]] == min(addresses.values())
