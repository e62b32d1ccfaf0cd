package io.pagoda.agrona;

import io.pagoda.OutOfPagesException;
import io.pagoda.PageAllocator;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Agrona buffers from a {@link PageAllocator}, with an explicit release: {@link #allocate(int)}
 * hands out an {@link UnsafeBuffer} over memory of the allocator, {@link #release(DirectBuffer)}
 * gives it back.
 *
 * {@snippet lang=java :
 * PagodaDirectBuffers buffers = new PagodaDirectBuffers(pages);
 * UnsafeBuffer buffer = buffers.allocate(1500);        // @highlight substring="allocate"
 * buffer.putStringAscii(0, "hello");
 * // ... an SBE flyweight or an Aeron publication over it
 * buffers.release(buffer);                             // @highlight substring="release"
 * }
 *
 * <p>A buffer carries only an address and a capacity, while {@link PageAllocator#free} takes the
 * segment it handed out (a segment made from an address has another scope, and is refused). So
 * each buffer's segment is kept here, by address, until the buffer is released: that is also what
 * lets a release refuse, and change nothing for, a buffer not handed out here, another view over
 * the same memory, or a buffer released already. Each buffer out costs a map entry.
 *
 * <p>Buffers are not zeroed unless the allocator is {@linkplain PageAllocator.Builder#zeroed
 * zeroed}, and are at least 16-byte aligned (blocks of 4 KiB and more: page aligned), so Agrona's
 * atomic operations work on them ({@link UnsafeBuffer#verifyAlignment()} passes).
 *
 * <p>A buffer is not revoked when it is released: its memory goes to the next allocation, and a
 * buffer (or a view of it) used after its release reads and writes whatever lives there now, as
 * with any pool. Unlike a segment, an UnsafeBuffer has no scope to check: a buffer larger than the
 * allocator's largest block gets a mapping of its own, unmapped on release, and closing the
 * allocator unmaps every buffer's memory; a buffer touched after that crashes the JVM. Close the
 * allocator only after the last use of its buffers.
 *
 * <p>Instances are thread-safe; the buffers themselves are not, as every UnsafeBuffer.
 */
public final class PagodaDirectBuffers {

    /**
     * A buffer handed out, with the segment its memory came as. Not a record: the map compares
     * leases by identity, where a record would compare the buffers' contents.
     */
    private static final class Lease {
        final UnsafeBuffer buffer;
        final MemorySegment segment;

        Lease(UnsafeBuffer buffer, MemorySegment segment) {
            this.buffer = buffer;
            this.segment = segment;
        }
    }

    private final PageAllocator pages;
    /** The buffers handed out and not yet released, by address. */
    private final ConcurrentHashMap<Long, Lease> out = new ConcurrentHashMap<>();

    /** Buffers from {@code pages}, which must stay open while any of them is in use. */
    public PagodaDirectBuffers(PageAllocator pages) {
        this.pages = Objects.requireNonNull(pages, "pages");
    }

    /**
     * A buffer of exactly {@code capacity} bytes (not the size of the object or block behind it).
     * Give it back with {@link #release(DirectBuffer)}; nothing frees it when it becomes unreachable.
     *
     * @throws IllegalArgumentException if capacity is negative
     * @throws OutOfPagesException      as {@link PageAllocator#allocate(long)}
     * @throws IllegalStateException    if the allocator is closed
     */
    public UnsafeBuffer allocate(int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
        MemorySegment segment = pages.allocate(capacity);
        UnsafeBuffer buffer = AgronaBuffers.wrap(segment);
        Lease previous = out.put(segment.address(), new Lease(buffer, segment));
        assert previous == null : "memory of a buffer out was handed out again: freed behind this object's back";
        return buffer;
    }

    /**
     * Gives back a buffer that {@link #allocate(int)} returned: the same object, still wrapped
     * over the memory it was handed out with.
     *
     * @throws IllegalArgumentException if the buffer is a heap buffer, is another view over the
     *         memory of a buffer out (release that buffer itself), or was re-wrapped since it
     *         was handed out
     * @throws IllegalStateException    if no buffer out starts at its address: it was released
     *         already (a double release), or was never handed out here; or if the allocator is
     *         closed
     */
    public void release(DirectBuffer buffer) {
        Objects.requireNonNull(buffer, "buffer");
        if (buffer.byteArray() != null) {
            throw new IllegalArgumentException("a heap buffer was not handed out by these buffers: " + buffer);
        }
        long address = buffer.addressOffset();
        Lease lease = out.get(address);
        if (lease == null || lease.buffer != buffer || buffer.capacity() != lease.segment.byteSize()) {
            throw refusedRelease(buffer, lease);
        }
        if (!out.remove(address, lease)) {
            throw new IllegalStateException(describe(buffer) + " is being released by another thread");
        }
        try {
            pages.free(lease.segment);
        } catch (RuntimeException e) {
            out.putIfAbsent(address, lease); // refused (a closed allocator): still out, as before
            throw e;
        }
    }

    /** Buffers handed out and not yet released: a leak count for tests and shutdown checks. */
    public int outstanding() {
        return out.size();
    }

    /** The allocator the buffers come from. */
    public PageAllocator pages() {
        return pages;
    }

    @Override
    public String toString() {
        return "PagodaDirectBuffers[" + out.size() + " out, " + pages + "]";
    }

    private static RuntimeException refusedRelease(DirectBuffer buffer, Lease lease) {
        String at = describe(buffer);
        if (lease == null) {
            return new IllegalStateException(at + " is no buffer these buffers have out: it was released already "
                    + "(a double release), or was never handed out here");
        }
        if (lease.buffer != buffer) {
            return new IllegalArgumentException(at + " is not the buffer handed out for that memory: another view "
                    + "over it (release the buffer itself), or a buffer released already whose memory was handed out again");
        }
        return new IllegalArgumentException(at + " was re-wrapped since it was handed out with "
                + lease.segment.byteSize() + " bytes: wrap it back, and release it as it was handed out");
    }

    private static String describe(DirectBuffer buffer) {
        return "the buffer at 0x" + Long.toHexString(buffer.addressOffset()) + " of " + buffer.capacity() + " bytes";
    }
}
