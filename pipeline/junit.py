"""JUnit XML for CI (Jenkins `junit`, GitHub test reporters): pure rendering of test case results."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    seconds: float
    failure: str | None = None      # one-line reason when it failed
    details: str = ""               # longer text for the failure body


def render(suite: str, cases: list[Case]) -> str:
    failures = sum(1 for c in cases if c.failure)
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                         errors="0", skipped="0", time=f"{sum(c.seconds for c in cases):.3f}")
    for case in cases:
        item = ET.SubElement(node, "testcase", classname=case.classname, name=case.name, time=f"{case.seconds:.3f}")
        if case.failure:
            failure = ET.SubElement(item, "failure", message=case.failure, type="SmokeCheckFailed")
            failure.text = case.details or case.failure
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
