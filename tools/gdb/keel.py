# keel.py — gdb commands for debugging keel under QEMU's gdbstub.
# Loaded by `bazel run //:debug` (tools/qemu_runner --gdb). Commands:
#
#   keel-state          exception level, PC, SP, translation registers, the
#                       current address space and this CPU's current thread
#   keel-esr [VALUE]    decode ESR_EL1 (or VALUE) with keel's own decoder
#   keel-walk VA        walk VA through the live translation tables
#                       (reads the tables as physical memory via QEMU)
#
# The walk mirrors kernel/arch/arm64/page_table.cc's translate(): 4 KiB
# granule, 48-bit VAs, levels 0-3. QEMU 7.2 names some EL1 registers without
# the suffix in its gdbstub (SCTLR, VBAR), others with it (TCR_EL1, TTBR1_EL1).

import subprocess

import gdb

ESR_TOOL = None  # set by the generated gdb script


def reg(name):
    try:
        return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF
    except gdb.error:
        # Flag-typed registers (cpsr) refuse int(); their hex value is the
        # second word of `info registers`.
        return int(gdb.execute("info registers " + name, to_string=True).split()[1], 16)


def read_phys_u64(pa):
    gdb.execute("maintenance packet Qqemu.PhyMemMode:1", to_string=True)
    try:
        mem = gdb.selected_inferior().read_memory(pa, 8)
        return int.from_bytes(bytes(mem), "little")
    finally:
        gdb.execute("maintenance packet Qqemu.PhyMemMode:0", to_string=True)


class KeelState(gdb.Command):
    """Show the CPU's exception level, PC, SP and translation registers."""

    def __init__(self):
        super().__init__("keel-state", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        el = (reg("cpsr") >> 2) & 3
        pc = reg("pc")
        sym = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip().split(" in section ")[0]
        tcr = reg("TCR_EL1")
        sctlr = reg("SCTLR")
        print("EL%d  PC 0x%016x (%s)" % (el, pc, sym))
        print("SP 0x%016x  VBAR_EL1 0x%016x" % (reg("sp"), reg("VBAR")))
        print("SCTLR_EL1 0x%x (MMU %s)  TCR_EL1 0x%x  MAIR_EL1 0x%x" %
              (sctlr, "on" if sctlr & 1 else "off", tcr, reg("MAIR_EL1")))
        ttbr0 = reg("TTBR0_EL1")
        print("TTBR1_EL1 0x%x (kernel)" % reg("TTBR1_EL1"))
        if tcr & (1 << 7):
            print("TTBR0_EL1 0x%x: walks disabled (EPD0): no user address space" % ttbr0)
        else:
            print("TTBR0_EL1 0x%x: root 0x%x, ASID %d" % (ttbr0, ttbr0 & 0xFFFFFFFFF000, ttbr0 >> 48))
        print(current_thread())


def current_thread():
    """This CPU's thread, from its per-CPU record (TPIDR_EL1 -> keel::Cpu)."""
    try:
        record = reg("TPIDR_EL1")
    except gdb.error:
        return "current thread: unknown (QEMU does not show TPIDR_EL1)"
    if record == 0:
        return "current thread: none yet (early boot: this CPU has no per-CPU record)"
    try:
        cpu = gdb.parse_and_eval("*(keel::Cpu*)0x%x" % record)
        frame = int(cpu["user_frame"])
        index = int(cpu["index"])
        if frame == 0:
            return "current thread: none (CPU %d runs no thread: idle, or between threads)" % index
        # A thread's frame is its first member: the frame's address is the thread's.
        t = gdb.parse_and_eval("*(keel::Thread*)0x%x" % frame)
        name = t["name"].string()
        return "current thread: %s (at 0x%x, %s, priority %d, CPU %d)" % (
            name or "(unnamed)", frame, str(t["state"]).split("::")[-1], int(t["priority"]), index)
    except gdb.error as e:
        return "current thread: unreadable at per-CPU record 0x%x (%s)" % (record, e)


class KeelEsr(gdb.Command):
    """Decode ESR_EL1, or the value given: keel-esr [0x96000044]."""

    def __init__(self):
        super().__init__("keel-esr", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        value = int(gdb.parse_and_eval(arg)) if arg.strip() else reg("ESR_EL1")
        if ESR_TOOL is None:
            print("keel-esr: the decoder path was not set (start gdb with bazel run //:debug)")
            return
        out = subprocess.run([ESR_TOOL, "0x%x" % value], capture_output=True, text=True)
        print((out.stdout or out.stderr).strip())


LEVEL_SHIFT = [39, 30, 21, 12]


class KeelWalk(gdb.Command):
    """Walk a virtual address through the live tables: keel-walk VA."""

    def __init__(self):
        super().__init__("keel-walk", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            print("usage: keel-walk VA")
            return
        va = int(gdb.parse_and_eval(arg)) & 0xFFFFFFFFFFFFFFFF
        tcr = reg("TCR_EL1")
        top = va >> 48
        if top == 0xFFFF:
            half, table, disabled = "TTBR1", reg("TTBR1_EL1"), (tcr >> 23) & 1
        elif top == 0:
            half, table, disabled = "TTBR0", reg("TTBR0_EL1"), (tcr >> 7) & 1
        else:
            print("0x%x is not canonical: translation fault, level 0" % va)
            return
        if disabled:
            print("%s walks are disabled (TCR_EL1.EPD): translation fault, level 0" % half)
            return
        table &= 0xFFFFFFFFF000
        print("%s root 0x%x" % (half, table))
        for level in range(4):
            idx = (va >> LEVEL_SHIFT[level]) & 511
            desc = read_phys_u64(table + 8 * idx)
            print("  L%d[%3d] @0x%x = 0x%016x" % (level, idx, table + 8 * idx, desc))
            if not desc & 1:
                print("  -> translation fault, level %d" % level)
                return
            is_table = (desc >> 1) & 1
            if level < 3 and is_table:
                table = desc & 0xFFFFFFFFF000
                continue
            if level == 0 or (level == 3 and not is_table):
                print("  -> invalid descriptor type: translation fault, level %d" % level)
                return
            size = 1 << LEVEL_SHIFT[level]
            pa = (desc & 0xFFFFFFFFF000 & ~(size - 1)) | (va & (size - 1))
            attr = (desc >> 2) & 7
            mair = (reg("MAIR_EL1") >> (8 * attr)) & 0xFF
            ap = (desc >> 6) & 3
            rights = ["EL1 RW", "EL1+EL0 RW", "EL1 RO", "EL1+EL0 RO"][ap]
            print("  -> PA 0x%x (%s, level %d) AttrIndx %d = MAIR 0x%02x, %s, AF=%d, PXN=%d, UXN=%d" %
                  (pa, "page" if level == 3 else "block", level, attr, mair, rights,
                   (desc >> 10) & 1, (desc >> 53) & 1, (desc >> 54) & 1))
            return


KeelState()
KeelEsr()
KeelWalk()
