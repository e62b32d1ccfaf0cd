package io.pagoda.netty;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads, writes and copies memory at raw addresses: the one place in this module that touches
 * memory through an address, unchecked. A wrong address reads or writes whatever lives there,
 * corrupts another buffer's bytes, or crashes the JVM (an address in a mapping already unmapped);
 * callers check every index against the buffer's capacity and refuse released buffers first.
 *
 * <p>Access goes through one segment that spans the whole address space, made once with the
 * restricted {@link MemorySegment#reinterpret(long)}: so each access allocates nothing, where a
 * segment per buffer would cost a heap object per allocation. The restricted call needs native
 * access for this module ({@code --enable-native-access=io.pagoda.netty}, or {@code ALL-UNNAMED}
 * on the class path); without it the JDK prints a warning once and goes on.
 *
 * <p>Multi-byte values are big-endian unless the name ends in {@code LE}, as in Netty's ByteBuf.
 */
final class AddressMemory {

    /** Every address, from 0: an address is its own offset in it. */
    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private AddressMemory() {
    }

    static byte getByte(long address) {
        return EVERYTHING.get(ValueLayout.JAVA_BYTE, address);
    }

    static short getShort(long address) {
        return EVERYTHING.get(SHORT_BE, address);
    }

    static short getShortLE(long address) {
        return EVERYTHING.get(SHORT_LE, address);
    }

    static int getInt(long address) {
        return EVERYTHING.get(INT_BE, address);
    }

    static int getIntLE(long address) {
        return EVERYTHING.get(INT_LE, address);
    }

    static long getLong(long address) {
        return EVERYTHING.get(LONG_BE, address);
    }

    static long getLongLE(long address) {
        return EVERYTHING.get(LONG_LE, address);
    }

    static void setByte(long address, int value) {
        EVERYTHING.set(ValueLayout.JAVA_BYTE, address, (byte) value);
    }

    static void setShort(long address, int value) {
        EVERYTHING.set(SHORT_BE, address, (short) value);
    }

    static void setShortLE(long address, int value) {
        EVERYTHING.set(SHORT_LE, address, (short) value);
    }

    static void setInt(long address, int value) {
        EVERYTHING.set(INT_BE, address, value);
    }

    static void setIntLE(long address, int value) {
        EVERYTHING.set(INT_LE, address, value);
    }

    static void setLong(long address, long value) {
        EVERYTHING.set(LONG_BE, address, value);
    }

    static void setLongLE(long address, long value) {
        EVERYTHING.set(LONG_LE, address, value);
    }

    /** Copies {@code length} bytes between addresses; the ranges may overlap. */
    static void copy(long from, long to, long length) {
        MemorySegment.copy(EVERYTHING, from, EVERYTHING, to, length);
    }

    /** Copies {@code length} bytes from an address into an array. */
    static void copy(long from, byte[] to, int toIndex, int length) {
        MemorySegment.copy(EVERYTHING, ValueLayout.JAVA_BYTE, from, to, toIndex, length);
    }

    /** Copies {@code length} bytes from an array to an address. */
    static void copy(byte[] from, int fromIndex, long to, int length) {
        MemorySegment.copy(from, fromIndex, EVERYTHING, ValueLayout.JAVA_BYTE, to, length);
    }

    /** A new direct, big-endian ByteBuffer over {@code length} bytes at the address: position 0, limit and capacity the length. */
    static ByteBuffer view(long address, int length) {
        return EVERYTHING.asSlice(address, length).asByteBuffer();
    }
}
