#!/usr/bin/env python3
"""An independent check of Rendez's FHIR answers: reads JSON on stdin (one resource, or an
array of resources), validates each with the `fhir.resources` R4B models (and each entry of a
Bundle on its own), and prints one line per problem. Exit 0: all valid; 1: some invalid;
2: the input is not JSON. R4B's models are used because fhir.resources 8 ships no plain R4;
the resources Rendez serves are the same in R4 and R4B."""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class


def check(resource, where, problems):
    if not isinstance(resource, dict) or "resourceType" not in resource:
        problems.append(f"{where}: not a resource (no resourceType)")
        return
    kind = resource["resourceType"]
    try:
        model = get_fhir_model_class(kind)
    except Exception as error:  # an unknown type
        problems.append(f"{where}: unknown resourceType {kind!r}: {error}")
        return
    try:
        model.model_validate(resource)
    except Exception as error:
        problems.append(f"{where} ({kind}): {error}")
    if kind == "Bundle":
        for index, entry in enumerate(resource.get("entry", [])):
            check(entry.get("resource"), f"{where}.entry[{index}]", problems)


def main():
    try:
        data = json.load(sys.stdin)
    except ValueError as error:
        print(f"not JSON: {error}")
        return 2
    resources = data if isinstance(data, list) else [data]
    problems = []
    for index, resource in enumerate(resources):
        check(resource, f"[{index}]", problems)
    for problem in problems:
        print(problem)
    print(f"{len(resources)} resources checked, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
