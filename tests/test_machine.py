"""The CPU as records name it, and the bfloat16 flags `precision=auto` decides by."""

from animegan_tf import machine


def info(flags):
    return f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse {flags}\n\n"


def test_the_cpu_is_named_with_the_flags_that_decide_bfloat16_speed():
    assert machine.cpu_name(info("avx2 avx512_bf16 amx_tile amx_bf16")) == \
        "Intel(R) Xeon(R) Processor (avx512_bf16, amx_bf16)"
    assert machine.cpu_name(info("avx2 avx512_bf16")) == "Intel(R) Xeon(R) Processor (avx512_bf16)"
    assert machine.cpu_name(info("avx2 avx512f")) == "Intel(R) Xeon(R) Processor"
    assert machine.cpu_name("flags\t: avx2\n") == "unknown CPU"


def test_only_the_flags_line_counts_as_bfloat16():
    assert machine.bf16_flags(info("amx_bf16")) == ["amx_bf16"]
    assert machine.bf16_flags(info("avx2")) == []
    # a flag named elsewhere (a bug list, a model name) is not the CPU's
    assert machine.bf16_flags("model name\t: avx512_bf16 emulator\nflags\t: avx2\n") == []
