"""user_program: an EL0 program linked against libsys at the user layout."""

def user_program(name, srcs, deps = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        additional_linker_inputs = ["//libsys:user.ld"],
        linkopts = [
            "-Wl,-T,$(location //libsys:user.ld)",
            "-Wl,-z,max-page-size=4096",
            "-Wl,--no-pie",
        ],
        target_compatible_with = ["@platforms//os:none"],
        visibility = ["//visibility:public"],
        deps = ["//libsys"] + deps,
        **kwargs
    )
