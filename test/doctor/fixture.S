// fixture.S — a minimal AArch64 kernel for QEMU virt that turns the MMU on,
// with at most one deliberate mistake chosen at build time (BREAK_*). The
// doctor's tests boot each and check that it names the mistake. Without a
// BREAK_* it is correct: it prints "fixture: mmu on" through the PL011 and
// waits.
//
// Layout: linked at 0x40080000 (QEMU puts the DTB at the start of RAM for
// an ELF). One level-1 table (T0SZ = 25: 39-bit VAs, the walk starts at
// level 1, 1 GiB blocks): entry 0 maps 0..1 GiB (the UART) as Device,
// entry 1 maps RAM, 1..2 GiB, as Normal. MAIR attr0 = Device-nGnRnE,
// attr1 = Normal write-back. Every exception goes to a handler that waits
// forever: the silent hang the doctor is for.
//
// Variants that are not mistakes: IDLE_NO_STACK (it never sets SP, so SP
// stays 0, and idles with IDLE_B / IDLE_WFE / IDLE_WFI: healthy, nothing
// faults), GRANULE_64K (tables laid out for 64 KiB granules: 8 KiB level-2
// roots, 512 MiB blocks; TG0 and TG1 say so), JUMP_HIGH (after the switch
// it runs at its TTBR1 alias), VHE (entered at EL2, it sets HCR_EL2.E2H
// and then runs the same code: the _el1 register names reach the EL2
// registers, TTBR1_EL2 included). Mistakes of the granule kind:
// TG0_BITS / TG1_BITS override the TGn field while the tables stay laid
// out for 4 KiB.

#define UART_PA 0x09000000
#define ATTR_DEVICE (0 << 2)
#define ATTR_NORMAL (1 << 2)
#define BLOCK (1 << 10 | 0b01)          // AF, block descriptor
#define INNER_SHAREABLE (3 << 8)
#define TABLE 0b11
#define MAIR_VALUE 0xff00               // attr1 = 0xff (Normal WB), attr0 = 0x00 (Device-nGnRnE)
#if defined(GRANULE_64K)
#define TG0_VALUE 1                     // 64 KiB in TG0's numbering
#define TG1_VALUE 3                     // and in TG1's
#define RAM_SLOT 16                     // level-2 index of 1 GiB (512 MiB entries) * 8
#define HIGH_DEVICE_SLOT 8              // TTBR1: RAM at entry 0 (512 MiB), the devices at entry 1
#elif defined(TG0_BITS)
#define TG0_VALUE TG0_BITS
#define TG1_VALUE 2
#define RAM_SLOT 8
#define HIGH_DEVICE_SLOT 8
#elif defined(TG1_BITS)
#define TG0_VALUE 0
#define TG1_VALUE TG1_BITS
#define RAM_SLOT 8
#define HIGH_DEVICE_SLOT 8
#else
#define TG0_VALUE 0                     // 4 KiB
#define TG1_VALUE 2                     // 4 KiB (TG1 numbers granules differently)
#define RAM_SLOT 8                      // level-1 index 1 (1 GiB entries) * 8
#define HIGH_DEVICE_SLOT 8
#endif
#define TCR_T0 (25 | 1 << 8 | 1 << 10 | 3 << 12 | TG0_VALUE << 14)  // T0SZ 25, WB WA, inner shareable, TG0
#define TCR_T1 (25 << 16 | 1 << 24 | 1 << 26 | 3 << 28)     // T1SZ 25, WB WA, inner shareable
#define TCR_TG1_4K (TG1_VALUE << 30)                         // (the TG1 field: 4 KiB unless a variant says)
#define HIGH_BASE 0xffffff8000000000    // TTBR1's first entry maps RAM from 0x40000000 here
#define TCR_EPD0 (1 << 7)
#define TCR_EPD1 (1 << 23)
#define TCR_IPS_40 (2 << 32)

  .section .text.entry, "ax"
  .global _start
_start:
#ifdef VHE
  mrs   x0, CurrentEL
  cmp   x0, #(2 << 2)
  b.ne  1f
  mrs   x0, hcr_el2
  orr   x0, x0, #(1 << 34)            // E2H: EL2 gets TTBR1_EL2; the _el1 names below reach EL2's registers
  msr   hcr_el2, x0
  isb
1:
#endif
  ldr   x19, =UART_PA
  adr   x0, msg_start
  bl    puts
#ifndef BREAK_VBAR_UNSET
  adr   x0, vectors
  msr   vbar_el1, x0
#endif
#ifdef BREAK_STACK_UNMAPPED
  ldr   x0, =stack_top + 0x40000000   // a wrong offset: 2..3 GiB is not mapped
#else
  ldr   x0, =stack_top
#endif
#ifndef IDLE_NO_STACK
  mov   sp, x0
#endif

  // The level-1 table(s).
  adr   x1, l1_table
#ifndef BREAK_UART_PHYS
#ifdef BREAK_MAIR_UART_NORMAL
  ldr   x2, =(0x00000000 | BLOCK | ATTR_NORMAL | INNER_SHAREABLE)
#else
  ldr   x2, =(0x00000000 | BLOCK | ATTR_DEVICE)
#endif
  str   x2, [x1, #0]
#endif
#ifndef BREAK_IDMAP_GAP
  ldr   x2, =(0x40000000 | BLOCK | ATTR_NORMAL | INNER_SHAREABLE)
  str   x2, [x1, #RAM_SLOT]
#endif
  adr   x3, l1_high                   // TTBR1's table: RAM at the top 512 GiB's first GiB (or 512 MiB), the devices next
  ldr   x2, =(0x40000000 | BLOCK | ATTR_NORMAL | INNER_SHAREABLE)
  str   x2, [x3, #0]
  ldr   x2, =(0x00000000 | BLOCK | ATTR_DEVICE)
  str   x2, [x3, #HIGH_DEVICE_SLOT]

  ldr   x0, =MAIR_VALUE
  msr   mair_el1, x0
#if defined(BREAK_TG1_RESERVED)
  ldr   x0, =(TCR_T0 | TCR_T1 | TCR_IPS_40)          // TG1 = 0b00: TG0's 4K encoding in TG1's field
#elif defined(BREAK_PC_PHYS)
  ldr   x0, =(TCR_T0 | TCR_EPD0 | TCR_T1 | TCR_TG1_4K | TCR_IPS_40)  // only the high half walks
#else
  ldr   x0, =(TCR_T0 | TCR_T1 | TCR_TG1_4K | TCR_IPS_40)
#endif
  msr   tcr_el1, x0
#ifdef BREAK_TABLE_NOT_AT_TTBR
  add   x1, x1, #4096                 // TTBR0 one page past the table: an empty page
#endif
  msr   ttbr0_el1, x1
#ifdef BREAK_TTBR_SAME
  msr   ttbr1_el1, x1
#else
  msr   ttbr1_el1, x3
#endif
  dsb   ish
  isb
  mrs   x0, sctlr_el1
  orr   x0, x0, #(1 << 0)             // M
  orr   x0, x0, #(1 << 2)             // C
  orr   x0, x0, #(1 << 12)            // I
  msr   sctlr_el1, x0
  isb
#ifdef BREAK_PC_PHYS
  // Meant to run at the high alias from here (ldr x0, =virtual; br x0)
  // before the switch; as written the PC is still physical.
#endif
#ifdef JUMP_HIGH
  ldr   x0, =high + (HIGH_BASE - 0x40000000)
  br    x0                            // from here on at the TTBR1 alias
high:
#endif
#ifndef IDLE_NO_STACK
  sub   sp, sp, #16                   // the stack, after the switch
  str   x19, [sp]
#endif
  adr   x0, msg_on
  bl    puts
#ifdef BREAK_VBAR_UNSET
  brk   #0                            // an assertion: the first exception after the switch
#endif
#if defined(IDLE_B)
1:b     1b
#elif defined(IDLE_WFI)
1:wfi
  b     1b
#else
1:wfe
  b     1b
#endif

// puts(x0): the string at x0 to the UART at x19.
puts:
  ldrb  w1, [x0], #1
  cbz   w1, 2f
  strb  w1, [x19]
  b     puts
2:ret

msg_start: .asciz "fixture: start\n"
msg_on:    .asciz "fixture: mmu on\n"
  .ltorg

// Every exception: wait forever (a kernel whose handler is not written yet).
  .balign 2048
vectors:
  .rept 16
  .balign 128
  b     hang
  .endr
hang:
  wfe
  b     hang

  .section .data.tables, "aw"
  .balign 4096
#ifdef GRANULE_64K
  .balign 8192                        // a 64 KiB-granule level-2 root of 1,024 entries: 8 KiB, aligned so
#endif
l1_table:
  .space 4096
  .space 4096                         // (the empty page BREAK_TABLE_NOT_AT_TTBR points at)
#ifdef GRANULE_64K
  .balign 8192
l1_high:
  .space 8192
#else
l1_high:
  .space 4096
#endif
  .balign 16
stack:
  .space 4096
stack_top:
