#!/usr/bin/env python3
"""Seeds for the device fuzzers (fuzz_vm.h's input format): one working
request per device, and for virtio-net receive buffers that are short of
a frame, then topped up. seed-virtio.py TARGET DIR"""
import struct
import sys

WRITE, NEXT = 2, 1


def desc(addr, length, flags, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)


def image(descs, heads, avail_at=0x400):
    """Descriptor table at 0, the avail ring (all heads published)."""
    img = bytearray(avail_at)
    table = b''.join(descs)
    img[:len(table)] = table
    img += struct.pack('<HH', 0, len(heads))
    img += b''.join(struct.pack('<H', h) for h in heads)
    return bytes(img)


def header(qsel, feats, sectors, up, img):
    return bytes([qsel, feats, sectors, up]) + struct.pack('<H', len(img)) + img


def ram(gpa, data):
    return bytes([0]) + struct.pack('<HB', gpa, len(data)) + data


def frame(payload):
    f = b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x88\xb5' + payload
    f = bytes(12) + f.ljust(60, b'\0')  # virtio-net header first
    return bytes([3]) + struct.pack('<H', len(f)) + f


def seeds():
    blk = header(4, 0x23, 127, 1, image(
        [desc(0x4000, 16, NEXT, 1), desc(0x4100, 512, WRITE | NEXT, 2),
         desc(0x4300, 1, WRITE)], [0]))
    blk_read = ram(0x4000, struct.pack('<IIQ', 0, 0, 0)) + bytes([1, 0, 2])
    rng = header(4, 0x03, 0, 1, image([desc(0x4000, 64, WRITE)], [0]))
    # MRG_RXBUF: 1 KiB posted, a frame needs 1,530 bytes; then 1 KiB more.
    short = header(4, 0x05, 0, 1, image(
        [desc(0x4000, 512, WRITE), desc(0x4200, 512, WRITE),
         desc(0x4400, 512, WRITE), desc(0x4600, 512, WRITE)], [0, 1])) + \
        frame(b'mvm-short') + bytes([2])
    more = ram(0x404, struct.pack('<HH', 2, 3)) + bytes([7, 0, 2, 2])
    tx = ram(0x1000, desc(0x5000, 72, 0)) + \
        ram(0x5000, bytes(12) + b'\xff' * 6 + b'\x02' + bytes(53)) + \
        bytes([7, 1, 1, 2])
    # virtio-mem, 2 blocks of 2 requested (size byte 2): PLUG then UNPLUG
    # the first block, the requests in the image, so that the kick that
    # brings the device up serves them.
    mem_img = bytearray(image(
        [desc(0x800, 24, NEXT, 1), desc(0x880, 10, WRITE),
         desc(0x900, 24, NEXT, 3), desc(0x980, 10, WRITE)], [0, 2]))
    mem_img += bytes(0xa00 - len(mem_img))
    mem_img[0x800:0x818] = struct.pack('<HxxxxxxQHxxxxxx', 0, 0x200000, 1)
    mem_img[0x900:0x918] = struct.pack('<HxxxxxxQHxxxxxx', 1, 0x200000, 1)
    mem = header(4, 0x03, 2, 1, bytes(mem_img)) + bytes([2])
    # virtio-pmem: two FLUSHes (a 4-byte type 0, a 4-byte answer).
    pmem_img = bytearray(image(
        [desc(0x800, 4, NEXT, 1), desc(0x880, 4, WRITE),
         desc(0x900, 4, NEXT, 3), desc(0x980, 4, WRITE)], [0, 2]))
    pmem_img += bytes(0xa00 - len(pmem_img))
    pmem = header(4, 0x03, 0, 1, bytes(pmem_img)) + bytes([2])
    # virtio-vsock (CID 3): two receive buffers on queue 0, then on queue
    # 1 (rings from 0x1000) a REQUEST to the host's port 5000, which the
    # fuzzer listens on, and a packet of data; a host's CONNECT 52.
    def vsock_hdr(op, length):
        return struct.pack('<QQIIIHHIII', 3, 2, 1000, 5000, length, 1, op,
                           0, 65536, 0)
    vsock = header(4, 0x01, 0, 1, image(
        [desc(0x4000, 256, WRITE), desc(0x4100, 256, WRITE)], [0, 1]))
    vsock_req = ram(0x1000, desc(0x5000, 44, 0)) + \
        ram(0x5000, vsock_hdr(1, 0)) + bytes([7, 1, 1, 2])
    vsock_rw = ram(0x1010, desc(0x5100, 49, 0)) + \
        ram(0x5100, vsock_hdr(5, 5) + b'hello') + \
        ram(0x1404, struct.pack('<HH', 0, 1)) + bytes([7, 1, 1, 2])
    vsock_host = bytes([3]) + struct.pack('<H', 11) + b'CONNECT 52\n' + \
        bytes([2])
    # The balloon's five queues have their rings below 0x5000. Inflate
    # PFNs 8 and 9 (queue 0), then a statistics buffer (queue 2) and a
    # reported free range (queue 4).
    inflate = header(4, 0x40, 0, 1, image([desc(0x5000, 8, 0)], [0])) + \
        ram(0x5000, struct.pack('<II', 8, 9)) + bytes([1, 0, 2])
    stats = ram(0x2000, desc(0x5800, 20, 0)) + \
        ram(0x2400, struct.pack('<HHH', 0, 1, 0)) + \
        ram(0x5800, struct.pack('<HQHQ', 4, 1 << 20, 5, 1 << 26)) + \
        bytes([1, 2, 2])
    report = ram(0x4000, desc(0xa000, 0x2000, WRITE)) + \
        ram(0x4400, struct.pack('<HHH', 0, 1, 0)) + bytes([1, 4, 2])
    return {
        'fuzz_balloon': {'inflate': inflate, 'stats': inflate + stats,
                         'report': inflate + stats + report},
        'fuzz_blk': {'read': blk + blk_read},
        'fuzz_rng': {'read': rng},
        'fuzz_mem': {'plug-unplug': mem},
        'fuzz_pmem': {'flush': pmem},
        'fuzz_vsock': {'request': vsock + vsock_req,
                       'request-rw': vsock + vsock_req + vsock_rw,
                       'host-connect': vsock + vsock_host},
        'fuzz_net': {'short-rx': short, 'short-rx-more': short + more,
                     'tx': short + tx},
        'fuzz_transport': {'rng': b'\0' + rng, 'blk': b'\1' + blk + blk_read,
                           'net': b'\2' + short + more,
                           'balloon': b'\3' + inflate + stats,
                           'mem': b'\4' + mem},
    }


def main():
    target, out = sys.argv[1], sys.argv[2]
    for name, data in seeds().get(target, {}).items():
        with open(f'{out}/seed-{name}', 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
