#!/bin/bash
# bazel run //:profile -- ...: runs tools/profile/profile.cc from the
# runfiles (where the images, the runner and the plugin are).
set -euo pipefail
cd "${RUNFILES_DIR:-$0.runfiles}/keel"
exec tools/profile/profile "$@"
