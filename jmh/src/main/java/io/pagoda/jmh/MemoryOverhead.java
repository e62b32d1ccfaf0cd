package io.pagoda.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.pagoda.PageAllocator;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Memory overhead: resident memory over bytes live, for a mix of buffer sizes, one allocator per
 * JVM (so that each starts from the same resident baseline). Not a JMH benchmark: a main, run once
 * per allocator, since what it measures is memory, not time.
 *
 * <p>The workload: buffers of 64 B to 64 KiB (sizes spread evenly over their logarithm, as a
 * server's are) are allocated and filled until 256 MiB are live; then, three times over, a random
 * half is freed and as many bytes are allocated again, so that the allocators work on fragmented
 * memory as they do after a while in a server. It prints the resident bytes the process gained
 * (from /proc/self/statm) over the bytes live at the end.
 *
 * {@snippet lang=sh :
 * for a in pagoda nettyPooled nettyAdaptive malloc jemalloc; do
 *   java --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar io.pagoda.jmh.MemoryOverhead $a
 * done
 * }
 */
public final class MemoryOverhead {

    private static final long LIVE_BYTES = 256L << 20;
    private static final int ROUNDS = 3;

    /** One allocator under test: allocate a filled buffer, free it. */
    private interface Subject {
        Object allocate(int size);

        void free(Object buffer);
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: MemoryOverhead pagoda|nettyPooled|nettyAdaptive|malloc|jemalloc");
        }
        Subject subject = subject(args[0]);
        long baseline = residentBytes();
        SplittableRandom random = new SplittableRandom(42);
        List<Object> buffers = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        long live = fill(subject, random, buffers, sizes, 0);
        for (int round = 0; round < ROUNDS; round++) {
            for (int i = buffers.size() - 1; i >= 0; i--) {
                if (random.nextBoolean()) {
                    subject.free(buffers.remove(i));
                    live -= sizes.remove(i);
                }
            }
            live = fill(subject, random, buffers, sizes, live);
        }
        long resident = residentBytes() - baseline;
        System.out.printf("%s: %d buffers, %.1f MiB live, %.1f MiB resident gained, overhead %.1f%%%n", args[0],
                buffers.size(), live / 1048576.0, resident / 1048576.0, 100.0 * (resident - live) / live);
    }

    private static long fill(Subject subject, SplittableRandom random, List<Object> buffers, List<Integer> sizes, long live) {
        while (live < LIVE_BYTES) {
            int size = (int) Math.pow(2, 6 + random.nextDouble() * 10); // 64 B to 64 KiB
            buffers.add(subject.allocate(size));
            sizes.add(size);
            live += size;
        }
        return live;
    }

    private static Subject subject(String name) {
        return switch (name) {
            case "pagoda" -> {
                PageAllocator pages = PageAllocator.builder().capacity(4L << 30).build();
                yield new Subject() {
                    public Object allocate(int size) {
                        return pages.allocate(size).fill((byte) 1);
                    }

                    public void free(Object buffer) {
                        pages.free((MemorySegment) buffer);
                    }
                };
            }
            case "nettyPooled" -> netty(Netty.pooled());
            case "nettyAdaptive" -> netty(Netty.adaptive());
            case "malloc" -> native_(Libc::malloc, Libc::free);
            case "jemalloc" -> {
                Jemalloc.requireLoaded();
                yield native_(Jemalloc::malloc, Jemalloc::free);
            }
            default -> throw new IllegalArgumentException("unknown allocator " + name);
        };
    }

    private static Subject netty(ByteBufAllocator allocator) {
        return new Subject() {
            public Object allocate(int size) {
                ByteBuf buffer = allocator.directBuffer(size, size);
                buffer.setZero(0, size);
                return buffer;
            }

            public void free(Object buffer) {
                ((ByteBuf) buffer).release();
            }
        };
    }

    private static Subject native_(java.util.function.LongUnaryOperator malloc, java.util.function.LongConsumer free) {
        return new Subject() {
            public Object allocate(int size) {
                long address = malloc.applyAsLong(size);
                MemorySegment.ofAddress(address).reinterpret(size).fill((byte) 1);
                return new long[] {address, size};
            }

            public void free(Object buffer) {
                free.accept(((long[]) buffer)[0]);
            }
        };
    }

    private static long residentBytes() throws IOException {
        String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
        return Long.parseLong(statm[1]) * 4096;
    }
}
