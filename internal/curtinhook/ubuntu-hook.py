#!/usr/bin/env python3
"""curtin hook for Ubuntu and Debian images, from packer-plugin-maas.

curtin runs /curtin/curtin-hooks from the written image on MAAS's ephemeral
Ubuntu (not in a chroot), in place of its built-in hooks. This hook runs
those built-in hooks itself, asking them for the kernel package named in
/curtin/CUSTOM_KERNEL (when the image has one) instead of the kernel MAAS
would pick, then removes /curtin from the deployed system.
"""

import os
import shutil
import sys
import types

from curtin import config, util
from curtin.commands.curthooks import builtin_curthooks


def read_custom_kernel(target):
    """The package name in TARGET/curtin/CUSTOM_KERNEL, or "" without one."""
    try:
        with open(os.path.join(target, "curtin", "CUSTOM_KERNEL")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def with_kernel_package(cfg, package):
    """cfg with its kernel config asking for package; other kernel keys
    (fallback_package, mapping, remove) stay as MAAS set them."""
    kernel = dict(cfg.get("kernel") or {})
    kernel["package"] = package
    return dict(cfg, kernel=kernel)


def main():
    state = util.load_command_environment()
    target = state.get("target")
    if not target:
        sys.exit("curtin-hooks: TARGET_MOUNT_POINT is not set: "
                 "this hook runs under curtin, during a MAAS deployment")
    # No command-line config: curtin's rendered config file (CONFIG) is used.
    cfg = config.load_command_config(types.SimpleNamespace(config=None), state)
    package = read_custom_kernel(target)
    if package:
        print("curtin-hooks: installing kernel package %s" % package,
              file=sys.stderr)
        cfg = with_kernel_package(cfg, package)
    builtin_curthooks(cfg, target, state)
    shutil.rmtree(os.path.join(target, "curtin"))


if __name__ == "__main__":
    main()
