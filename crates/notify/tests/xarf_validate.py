"""Validate XARF reports written by schoon-notify's tests with the official `xarf` package.

Usage: python xarf_validate.py DIR

Every DIR/*.json must be a valid XARF v4 content/csam report in standard mode, with no
unknown-field warnings; files named invalid-*.json are negative controls and must be rejected
(proving the validator really checks). Recommended fields missing in strict mode are printed
for information only. Exit status 0 when all expectations hold.
"""

import json
import pathlib
import sys

import jsonschema
import xarf
from xarf.schema_validator import schema_validator


def main() -> int:
    directory = pathlib.Path(sys.argv[1])
    # The formats our reports rely on must really be checked, not silently skipped.
    needed = {"uri", "hostname", "email", "date-time", "uuid"}
    missing = needed - set(jsonschema.FormatChecker().checkers)
    if missing:
        print(f"FAIL: format checkers missing: {sorted(missing)}")
        return 1

    failures = []
    n_valid = n_invalid = 0
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        result = xarf.parse(data)
        expect_valid = not path.name.startswith("invalid-")
        if expect_valid:
            n_valid += 1
            kind = type(result.report).__name__ if result.report is not None else None
            problems = [f"{e.field}: {e.message}" for e in result.errors]
            problems += [f"warning {w.field}: {w.message}" for w in result.warnings]
            if kind != "CsamReport":
                problems.append(f"parsed as {kind}, not CsamReport")
            if problems:
                failures.append(f"{path.name}: {problems}")
            strict = schema_validator.validate(data, strict=True)
            info = sorted({e.message for e in strict})
            print(f"ok {path.name} (strict mode would also want: {info})")
        else:
            n_invalid += 1
            if not result.errors:
                failures.append(f"{path.name}: negative control was accepted")
            else:
                print(f"rejected as expected {path.name}: {result.errors[0].message}")

    print(f"xarf {xarf.__version__ if hasattr(xarf, '__version__') else '?'}: "
          f"{n_valid} valid, {n_invalid} negative controls")
    if n_valid == 0 or n_invalid == 0:
        failures.append("nothing to validate")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
