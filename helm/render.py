#!/usr/bin/env python3
"""Renders or lints a chart with the Helm v4 library (PyPI package helm-python-sdk), no helm
binary needed: what `helm template --include-crds` and `helm lint` print.

  render.py CHART [-f VALUES]... [--set-json JSON] [--release NAME] [--namespace NS]
  render.py CHART --lint [-f VALUES]...

Render prints the CRDs, then every rendered template, as one multi-document YAML stream. Lint
prints its findings and exits 1 when one is an error. A render error exits 1 with Helm's message.
"""
import argparse
import json
import sys

import helm_python as helm
import yaml


def merged_values(files, set_json):
    values = {}
    for path in files:
        with open(path, encoding="utf-8") as handle:
            deep_merge(values, yaml.safe_load(handle) or {})
    if set_json:
        deep_merge(values, json.loads(set_json))
    return values


def deep_merge(into, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("chart")
    parser.add_argument("-f", "--values", action="append", default=[])
    parser.add_argument("--set-json", default="")
    parser.add_argument("--release", default="aws-load-balancer-controller")
    parser.add_argument("--namespace", default="kube-system")
    parser.add_argument("--lint", action="store_true")
    arguments = parser.parse_args()
    values = merged_values(arguments.values, arguments.set_json)
    try:
        if arguments.lint:
            report = helm.lint(arguments.chart, values, strict=True, namespace=arguments.namespace)
            for message in report.get("messages", []):
                print(f"[{message['severity']}] {message['path']}: {message['error']}")
            errors = report.get("errors") or []
            for error in errors:
                print(f"error: {error}", file=sys.stderr)
            failed = errors or any(m["severity"] >= 2 for m in report.get("messages", []))
            return 1 if failed else 0
        chart = helm.Chart.load(arguments.chart)
        documents = [crd["data"] if isinstance(crd, dict) and "data" in crd else str(crd)
                     for crd in chart.crds]
        rendered = chart.render(values, name=arguments.release, namespace=arguments.namespace,
                                is_install=True)
        for path in sorted(rendered):
            if path.endswith(".yaml") and rendered[path].strip():
                documents.append(f"# Source: {path}\n{rendered[path].strip()}\n")
        sys.stdout.write("\n---\n".join(d.strip() + "\n" for d in documents if d.strip()))
        return 0
    except helm.HelmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
