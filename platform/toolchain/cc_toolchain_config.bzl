"""cc_toolchain_config for freestanding AArch64 C++20 (clang-16, ld.lld-16).

Every target file is compiled freestanding: no exceptions, no RTTI, no FP/SIMD
registers in generated code (the kernel does not save them on exception entry),
frame pointers kept (the panic backtrace walks them), strict warnings.
All code is position-independent (-fPIE): the physical boot stage links it
as a self-relocating PIE, the kernel links the same objects at a fixed VA.
"""

load("@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl", "feature", "flag_group", "flag_set", "tool_path")
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")

_COMPILE = [
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
]
_CXX = [ACTION_NAMES.cpp_compile]
_LINK = [ACTION_NAMES.cpp_link_executable, ACTION_NAMES.cpp_link_dynamic_library]

def _impl(ctx):
    tools = [
        tool_path(name = "gcc", path = "/usr/bin/clang-16"),
        tool_path(name = "ld", path = "/usr/lib/llvm-16/bin/ld.lld"),
        tool_path(name = "ar", path = "/usr/lib/llvm-16/bin/llvm-ar"),
        tool_path(name = "cpp", path = "/usr/bin/false"),
        tool_path(name = "gcov", path = "/usr/bin/false"),
        tool_path(name = "nm", path = "/usr/lib/llvm-16/bin/llvm-nm"),
        tool_path(name = "objdump", path = "/usr/lib/llvm-16/bin/llvm-objdump"),
        tool_path(name = "objcopy", path = "/usr/lib/llvm-16/bin/llvm-objcopy"),
        tool_path(name = "strip", path = "/usr/lib/llvm-16/bin/llvm-strip"),
    ]
    features = [
        feature(
            name = "freestanding",
            enabled = True,
            flag_sets = [
                flag_set(actions = _COMPILE, flag_groups = [flag_group(flags = [
                    "--target=aarch64-none-elf",
                    "-mcpu=cortex-a53",
                    "-ffreestanding",
                    "-fno-builtin",
                    "-nostdinc",
                    "-isystem",
                    "/usr/lib/llvm-16/lib/clang/16/include",
                    "-mgeneral-regs-only",
                    "-fPIE",
                    # Every symbol is in the same statically linked image: reach
                    # external data PC-relative (ADRP + offset), not through a GOT
                    # load (one load less per global; still position-independent).
                    "-fdirect-access-external-data",
                    "-fvisibility=hidden",
                    "-mstrict-align",
                    "-fno-omit-frame-pointer",
                    "-mno-omit-leaf-frame-pointer",
                    "-fno-stack-protector",
                    "-fno-common",
                    "-fno-jump-tables",
                    "-ffunction-sections",
                    "-fdata-sections",
                    "-g",
                    "-O2",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-Wthread-safety",
                    "-Wno-unused-command-line-argument",
                    "-no-canonical-prefixes",
                    "-fdebug-prefix-map=/proc/self/cwd=.",
                ])]),
                flag_set(actions = _CXX, flag_groups = [flag_group(flags = [
                    "-std=c++20",
                    "-fno-exceptions",
                    "-fno-rtti",
                    "-fno-threadsafe-statics",
                    "-fno-use-cxa-atexit",
                    "-nostdinc++",
                ])]),
                flag_set(actions = _LINK, flag_groups = [flag_group(flags = [
                    "--target=aarch64-none-elf",
                    "-fuse-ld=lld",
                    "--ld-path=/usr/lib/llvm-16/bin/ld.lld",
                    "-nostdlib",
                    "-static",
                    "-Wl,--gc-sections",
                    "-Wl,--build-id=none",
                    "-no-canonical-prefixes",
                ])]),
            ],
        ),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        toolchain_identifier = "aarch64-none-elf",
        host_system_name = "x86_64-linux-gnu",
        target_system_name = "aarch64-none-elf",
        target_cpu = "aarch64",
        target_libc = "none",
        compiler = "clang",
        abi_version = "none",
        abi_libc_version = "none",
        tool_paths = tools,
        features = features,
        cxx_builtin_include_directories = ["/usr/lib/llvm-16/lib/clang/16/include"],
    )

aarch64_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {},
    provides = [CcToolchainConfigInfo],
)
