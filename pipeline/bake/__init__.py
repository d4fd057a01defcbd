"""Bake a VM image with Packer: check the templates, fingerprint the inputs, run the build.

    summary = check_templates(template_dir, build="app", source="null.local", variables=vars_)
    digest = fingerprint(template_dir=template_dir, variables=vars_, exclude=summary.sensitive)
    result = run_packer(template_dir, build="app", source="null.local", output_dir=out,
                        variables={**vars_, "fingerprint": digest}, secrets={"app_package_url": url})

Uploading the app package and publishing to a gallery are other steps; this package only
talks to the `packer` binary.
"""

from pipeline.bake.fingerprint import fingerprint
from pipeline.bake.packer import PackerResult, run_packer
from pipeline.bake.templates import TemplateSummary, check_templates, load_templates

__all__ = ["PackerResult", "TemplateSummary", "check_templates", "fingerprint", "load_templates", "run_packer"]
