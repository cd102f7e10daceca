#!/usr/bin/python3
"""Checks the shipped introspection XML of org.lwauth.Auth1 against lwauthd.

Usage: introspection_check.py SHIPPED_XML LIVE_XML BUS_NAMES_HPP MAX_PENDING_LOGINS

LIVE_XML is what the running lwauthd answered to org.freedesktop.DBus.Introspectable.
Introspect on /org/lwauth/Auth1. Compared, for every org.lwauth.* interface: the set of
methods, each method's arguments (name, type and direction, in order), the signals and
their arguments, the properties and their types and access. The shipped file must also
give every method a DocString, name exactly the errors of bus_names.hpp, call no served
method "not provided", and give the engine's bound of logins in progress.

Prints one line per difference and exits 1 if there is any, else exits 0.
"""

import re
import sys
import xml.etree.ElementTree as ET

DOC = "org.freedesktop.DBus.DocString"
ERROR_NAME = re.compile(r"org\.lwauth\.Auth1\.Error\.[A-Za-z]+")
# Interface.Method, as the shipped file's prose names the methods of this contract.
SHORT_METHOD = re.compile(r"\b(Login|Account|Admin)\.([A-Z][A-Za-z]+)\b")
PENDING_BOUND = re.compile(r"logins in progress \(([0-9][0-9,]*)\)")


def args_of(element, default_direction):
    return [
        (arg.get("name", ""), arg.get("type", ""), arg.get("direction", default_direction))
        for arg in element.findall("arg")
    ]


def contract(root):
    """{interface: {"method"|"signal"|"property": {name: description}}} of lwauth's."""
    out = {}
    for interface in root.iter("interface"):
        name = interface.get("name", "")
        if not name.startswith("org.lwauth."):
            continue
        out[name] = {
            "method": {m.get("name"): args_of(m, "in") for m in interface.findall("method")},
            # A signal's arguments are all sent; the direction attribute means nothing there.
            "signal": {
                s.get("name"): [a[:2] for a in args_of(s, "out")]
                for s in interface.findall("signal")
            },
            "property": {
                p.get("name"): (p.get("type"), p.get("access"))
                for p in interface.findall("property")
            },
        }
    return out


def compare(shipped, live, problems):
    for name in sorted(set(shipped) | set(live)):
        if name not in live:
            problems.append(f"{name}: in the shipped XML, not served by lwauthd")
            continue
        if name not in shipped:
            problems.append(f"{name}: served by lwauthd, missing from the shipped XML")
            continue
        for kind in ("method", "signal", "property"):
            ours, theirs = shipped[name][kind], live[name][kind]
            for member in sorted(set(ours) | set(theirs)):
                where = f"{name}.{member} ({kind})"
                if member not in theirs:
                    problems.append(f"{where}: in the shipped XML, not served by lwauthd")
                elif member not in ours:
                    problems.append(f"{where}: served by lwauthd, missing from the shipped XML")
                elif ours[member] != theirs[member]:
                    problems.append(
                        f"{where}: the shipped XML has {ours[member]}, lwauthd {theirs[member]}"
                    )


def check_docs(root, text, bus_names, live, max_pending, problems):
    for interface in root.iter("interface"):
        if not interface.get("name", "").startswith("org.lwauth."):
            continue
        for method in interface.findall("method"):
            docs = [
                a.get("value", "").strip()
                for a in method.findall("annotation")
                if a.get("name") == DOC
            ]
            if len(docs) != 1 or not docs[0]:
                problems.append(
                    f"{interface.get('name')}.{method.get('name')}: wants one DocString line"
                )

    declared = set(ERROR_NAME.findall(bus_names))
    documented = set(ERROR_NAME.findall(text))
    for error in sorted(declared - documented):
        problems.append(f"{error}: in bus_names.hpp, not documented in the shipped XML")
    for error in sorted(documented - declared):
        problems.append(f"{error}: documented in the shipped XML, not in bus_names.hpp")

    comments = re.findall(r"<!--(.*?)-->", text, re.S)
    for paragraph in (p for c in comments for p in re.split(r"\n\s*\n", c)):
        if "not provided" not in paragraph:
            continue
        for interface, member in SHORT_METHOD.findall(paragraph):
            full = f"org.lwauth.Auth1.{interface}"
            if member in live.get(full, {}).get("method", {}):
                problems.append(f"{interface}.{member}: called not provided, but lwauthd serves it")

    bounds = PENDING_BOUND.findall(text)
    if not bounds:
        problems.append("the bound of logins in progress is not documented")
    for bound in bounds:
        if int(bound.replace(",", "")) != max_pending:
            problems.append(f"the logins-in-progress bound is given as {bound}, not {max_pending}")


def main(argv):
    if len(argv) != 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    shipped_path, live_path, bus_names_path, max_pending = argv[1:]
    with open(shipped_path, encoding="utf-8") as f:
        shipped_text = f.read()
    with open(bus_names_path, encoding="utf-8") as f:
        bus_names = f.read()
    shipped_root = ET.fromstring(shipped_text)
    live_root = ET.parse(live_path).getroot()
    problems = []
    live = contract(live_root)
    if not live:
        problems.append("lwauthd's introspection has no org.lwauth interface")
    compare(contract(shipped_root), live, problems)
    check_docs(shipped_root, shipped_text, bus_names, live, int(max_pending), problems)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
