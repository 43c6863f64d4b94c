"""qemu_dtb: the DTB QEMU's `virt` machine would hand a guest, as a build output."""

def qemu_dtb(name, machine, cpu, smp, mem):
    native.genrule(
        name = name,
        outs = [name + ".dtb"],
        cmd = ("qemu-system-aarch64 -M %s,dumpdtb=$@ -cpu %s -smp %d -m %s " +
               "-display none -nodefaults >/dev/null 2>&1 || " +
               "{ echo 'qemu-system-aarch64 could not dump a DTB (is qemu-system-arm installed?)' >&2; exit 1; }") %
              (machine, cpu, smp, mem),
        message = "QEMU dumps DTB %s" % name,
    )
