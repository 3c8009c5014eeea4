#!/usr/bin/env python3
"""Write a small bzImage whose payload is an LZ4 legacy stream of an ELF
vmlinux (one PT_LOAD at 16 MiB), as Linux builds them: a seed that starts
fuzz_image inside mvm's own unpacking (src/boot/unpack.c, lz4.c).

usage: seed-lz4-bzimage.py OUT
"""
import struct
import sys

LOAD = 0x1000000


def vmlinux():
    body = bytes((i * 7) & 0xff for i in range(0x3000))
    ehdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, LOAD, 64, 0, 0,
                        64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, 0xffffffff81000000,
                       LOAD, len(body), len(body) + 0x1000, 0x1000)
    head = (ehdr + phdr).ljust(0x1000, b"\0")
    return head + body


def lz4_legacy(data, block=0x1000):
    """Literal-only blocks, but for one match in the first: the header's
    zero padding, copied from 8 bytes back (an overlapping match)."""
    out = struct.pack("<I", 0x184C2102)
    for at in range(0, len(data), block):
        chunk = data[at:at + block]
        seq, lit = b"", chunk
        if at == 0:
            # 0x100 literals, then a 0x100-byte match from 8 back.
            ml = 0x100 - 4 - 15
            seq = (bytes([0xFF]) + bytes([0x100 - 15]) + chunk[:0x100] +
                   struct.pack("<H", 8) + bytes([ml]))
            lit = chunk[0x200:]
        n = len(lit)
        tok = bytes([0xF0]) + b"\xff" * ((n - 15) // 255) + bytes([(n - 15) % 255])
        blk = seq + tok + lit
        out += struct.pack("<I", len(blk)) + blk
    return out + struct.pack("<I", len(data))


def bzimage(payload):
    setup = bytearray(5 * 512)
    setup[0x1F1] = 4
    pm = bytearray(0x100) + payload
    pm += bytes(-len(pm) % 16)
    struct.pack_into("<I", setup, 0x1F4, len(pm) // 16)
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200:0x202] = b"\xeb\x6a"
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)
    setup[0x211] = 1
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)
    setup[0x234] = 1
    struct.pack_into("<H", setup, 0x236, 3)
    struct.pack_into("<I", setup, 0x238, 2047)
    struct.pack_into("<II", setup, 0x248, 0x100, len(payload))
    struct.pack_into("<Q", setup, 0x258, LOAD)
    struct.pack_into("<I", setup, 0x260, 8 << 20)
    return bytes(setup) + bytes(pm)


with open(sys.argv[1], "wb") as f:
    f.write(bzimage(lz4_legacy(vmlinux())))
