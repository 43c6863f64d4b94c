"""net_host_test: a host-side network test script run against a held guest."""

def net_host_test(name, script, boot, size = "medium"):
    """sh_test running `script` with the guest runner `boot`, net_client and
    guest.sh (its arguments, in that order); tagged qemu."""
    native.sh_test(
        name = name,
        size = size,
        srcs = [script],
        args = [
            "$(rootpath %s)" % boot,
            "$(rootpath :net_client)",
            "$(rootpath guest.sh)",
        ],
        data = [
            "guest.sh",
            boot,
            ":net_client",
        ],
        tags = ["qemu"],
    )
