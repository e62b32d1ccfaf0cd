package io.pagoda.agrona;

import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Agrona views of off-heap segments: {@link #wrap(MemorySegment)} gives an {@link UnsafeBuffer}
 * over exactly a segment's memory, so that code written for Agrona's buffers (Aeron's, SBE's
 * flyweights) reads and writes memory from a {@link io.pagoda.PageAllocator}, or any other native
 * segment.
 *
 * {@snippet lang=java :
 * MemorySegment segment = pages.allocate(4096);
 * UnsafeBuffer buffer = AgronaBuffers.wrap(segment);   // @highlight substring="wrap"
 * buffer.putLong(0, 42L);
 * assert segment.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) == 42L;
 * pages.free(segment);                                 // the view must not be used from here on
 * }
 *
 * <p>A view holds the segment's address and size, nothing more: it is not revoked when the memory
 * is freed or its arena closed. Agrona checks each access against the view's bounds (unless run
 * with {@code -Dagrona.disable.bounds.checks=true}), but not whether the memory is still there,
 * nor which thread may touch it: a view used after its segment is freed reads and writes whatever
 * lives there now, as with any pool, and one used after the memory is unmapped (a closed allocator
 * or arena) crashes the JVM. Drop the view before the segment.
 *
 * <p>Agrona 2.x reaches {@code jdk.internal.misc.Unsafe}: the process needs
 * {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED} on the class path
 * ({@code =org.agrona} on the module path).
 */
public final class AgronaBuffers {

    private AgronaBuffers() {
    }

    /**
     * A view over exactly the segment's memory: address {@code segment.address()}, capacity
     * {@code segment.byteSize()}. It reads and writes the segment's bytes in place, in the native
     * byte order unless asked for another, as every {@link UnsafeBuffer} does.
     *
     * @throws IllegalArgumentException if the segment is a heap segment (it has no address of its
     *         own: wrap its array with {@code new UnsafeBuffer(byte[])}), is read-only (the view
     *         could write), or is larger than {@link Integer#MAX_VALUE} bytes (Agrona's indexes are
     *         ints: wrap slices of it)
     * @throws IllegalStateException    if the segment's scope is closed (its memory may be gone)
     */
    public static UnsafeBuffer wrap(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException("a heap segment has no address of its own to wrap: " + segment
                    + "; wrap its array with new UnsafeBuffer(byte[]) instead");
        }
        if (segment.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("segment at 0x" + Long.toHexString(segment.address()) + " of "
                    + segment.byteSize() + " bytes is larger than an Agrona buffer, at most " + Integer.MAX_VALUE
                    + " bytes: wrap slices of it");
        }
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException("segment at 0x" + Long.toHexString(segment.address())
                    + " is read-only, and an UnsafeBuffer view could write to it");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException("segment at 0x" + Long.toHexString(segment.address())
                    + " is no longer accessible: its scope is closed, and its memory may be unmapped");
        }
        return new UnsafeBuffer(segment.address(), (int) segment.byteSize());
    }
}
