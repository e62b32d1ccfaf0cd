package io.pagoda.examples.db;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A table segment's memory on the Java heap: a {@code byte[]} per block, a handle is the block's
 * number in {@link #blocks} plus one. Released blocks and, at {@link #close()}, all of them are
 * left to the garbage collector; the segment's cost is the collector's work, not a free call.
 *
 * <p>Invariant: {@code blocks[handle - 1]} is the live block of a handle handed out and not
 * released; numbers are not reused (a released block leaves a null reference behind, 4 bytes).
 */
final class HeapMemory implements RecordMemory {

    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private byte[][] blocks = new byte[1024][];
    private int count;

    @Override
    public long allocate(long bytes) {
        if (bytes < 0 || bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a heap block holds 0 to " + (Integer.MAX_VALUE - 8) + " bytes, not " + bytes);
        }
        byte[][] live = blocks();
        if (count == live.length) {
            blocks = live = Arrays.copyOf(live, count * 2);
        }
        live[count++] = new byte[(int) bytes];
        return count;
    }

    @Override
    public long allocateZeroed(long bytes) {
        return allocate(bytes); // a new array is zeroed already
    }

    @Override
    public void release(long handle) {
        blocks()[index(handle)] = null;
    }

    @Override
    public int getInt(long handle, long offset) {
        return (int) INTS.get(block(handle), (int) offset);
    }

    @Override
    public void setInt(long handle, long offset, int value) {
        INTS.set(block(handle), (int) offset, value);
    }

    @Override
    public long getLong(long handle, long offset) {
        return (long) LONGS.get(block(handle), (int) offset);
    }

    @Override
    public void setLong(long handle, long offset, long value) {
        LONGS.set(block(handle), (int) offset, value);
    }

    @Override
    public void write(long handle, long offset, byte[] source, int length) {
        System.arraycopy(source, 0, block(handle), (int) offset, length);
    }

    @Override
    public void read(long handle, long offset, byte[] destination, int length) {
        System.arraycopy(block(handle), (int) offset, destination, 0, length);
    }

    @Override
    public boolean contentEquals(long handle, long offset, byte[] bytes, int length) {
        int from = (int) offset;
        return Arrays.equals(block(handle), from, from + length, bytes, 0, length);
    }

    /** Drops every block: the references go, and the collector reclaims the arrays when it runs. */
    @Override
    public void close() {
        blocks();
        blocks = null;
        count = 0;
    }

    private byte[] block(long handle) {
        byte[] block = blocks()[index(handle)];
        if (block == null) {
            throw new IllegalStateException("heap block " + handle + " was released");
        }
        return block;
    }

    private int index(long handle) {
        if (handle <= 0 || handle > count) {
            throw new IllegalArgumentException("no heap block " + handle + " (" + count + " handed out)");
        }
        return (int) handle - 1;
    }

    private byte[][] blocks() {
        byte[][] live = blocks;
        if (live == null) {
            throw new IllegalStateException("the segment's memory was dropped");
        }
        return live;
    }
}
