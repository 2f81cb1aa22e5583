# A memory-mapped appender in small, as log4j2's MemoryMappedFileAppender writes:
# map a region from where the records end, store records in it, map the next
# from where they end when it is full, cut the file there on close. Its stores
# raise no inotify event. Used by bench/preallocated.ts and
# test/input-preallocated.test.ts.
#
#   python3 mmap-writer.py PATH REGION_BYTES RECORDS_PER_SEC RECORDS [PAUSE_AFTER]
#
# Records go out in batches every millisecond, each stamped with
# CLOCK_MONOTONIC as bench/latency-writer.ts stamps them. With PAUSE_AFTER, once
# that many records are stored it prints "paused N" (N stored) and waits for a
# line on stdin before going on.
import mmap, os, sys, time

path, region, rate, total = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
pause_after = int(sys.argv[5]) if len(sys.argv) > 5 else -1
notes = ['"note":"Zürich desk, Größe geprüft",', '"note":"東京デスク 約定",', '', '']
fd = os.open(path, os.O_RDWR | os.O_CREAT)

def map_region(at):
    aligned = at - at % mmap.ALLOCATIONGRANULARITY
    os.ftruncate(fd, at + region)
    return mmap.mmap(fd, at + region - aligned, offset=aligned), at - aligned

end, region_end = 0, region
m, pos = map_region(0)
start = time.monotonic()
sent = 0
while sent < total:
    due = min(total, int((time.monotonic() - start) * rate))
    if pause_after >= 0 and sent < pause_after:
        due = min(due, pause_after)
    if due > sent:
        ts = int(time.time() * 1000)
        stamp = '%020d' % (time.clock_gettime_ns(time.CLOCK_MONOTONIC) % 10**15)
        batch = ''.join('{"id":"w%d","timestamp":%d,%s"t0":"%s","symbol":"BTC/USDT","side":"buy","price":64000.5,"qty":0.25}\n' % (i, ts, notes[i & 3], stamp) for i in range(sent, due)).encode()
        if end + len(batch) > region_end:
            m.close()
            m, pos = map_region(end)
            region_end = end + region
        m[pos:pos + len(batch)] = batch
        pos += len(batch)
        end += len(batch)
        sent = due
        if sent == pause_after:
            sys.stdout.write('paused %d\n' % sent)
            sys.stdout.flush()
            sys.stdin.readline()
            start = time.monotonic() - sent / rate
    time.sleep(0.001)
m.close()
os.ftruncate(fd, end)
os.close(fd)
