#!/usr/bin/env bash
# The Terraform part of `make test`: fmt, validate of every root, and the modules' terraform test
# files, all against a mock provider (no AWS account, no credentials). In CI (CI=true) a missing
# terraform fails; elsewhere it is skipped with one line saying so.
set -euo pipefail
cd "$(dirname "$0")"

tf=${TERRAFORM:-terraform}
if ! command -v "$tf" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "terraform not found: CI runs the Terraform checks (install Terraform >= 1.11, or set TERRAFORM)" >&2
    exit 1
  fi
  echo "make test: terraform not found, skipped the Terraform checks of deploy/terraform (fmt, validate, terraform test); install Terraform >= 1.11 to run them"
  exit 0
fi

# A local mirror of the providers (a folder holding registry.terraform.io/...): TF_PLUGIN_DIR, or
# the first of the usual places that has one. Without one, init downloads from the registry.
plugin_dir=${TF_PLUGIN_DIR:-}
if [ -z "$plugin_dir" ]; then
  for d in /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/local/share/terraform/plugins /usr/share/terraform/plugins; do
    if [ -d "$d/registry.terraform.io/hashicorp/aws" ]; then
      plugin_dir=$d
      break
    fi
  done
fi
init_flags=(-backend=false -input=false)
if [ -n "$plugin_dir" ]; then
  init_flags+=("-plugin-dir=$plugin_dir")
fi

export TF_IN_AUTOMATION=1
"$tf" fmt -check -recursive -diff >/dev/null 2>&1 || { "$tf" fmt -check -recursive -diff; echo "terraform fmt would change the files above (run: terraform fmt -recursive deploy/terraform)" >&2; exit 1; }

# Each root on its own, in parallel (most of the time is the provider starting): init, then
# terraform test where there are tests (it validates first), else terraform validate.
check_root() {
  local root=$1
  "$tf" -chdir="$root" init "${init_flags[@]}" || return 1
  if compgen -G "$root/tests/*.tftest.hcl" >/dev/null; then
    "$tf" -chdir="$root" test -no-color
  else
    "$tf" -chdir="$root" validate -no-color
  fi
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
roots=()
for root in examples/* modules/*; do
  [ -f "$root/main.tf" ] || continue
  check_root "$root" >"$logs/${root//\//_}.log" 2>&1 &
  pids+=($!)
  roots+=("$root")
done
failed=0
for i in "${!pids[@]}"; do
  root=${roots[$i]}
  if wait "${pids[$i]}"; then
    echo "terraform ok: deploy/terraform/$root"
  else
    cat "$logs/${root//\//_}.log" >&2
    echo "terraform FAILED: deploy/terraform/$root" >&2
    failed=1
  fi
done
exit $failed
