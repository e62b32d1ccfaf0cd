package io.pagoda.examples.db;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The 64-bit hash of a key: eight bytes at a time, each word and the result put through
 * MurmurHash3's finalizer, so that both the high bits (which pick a table's segment) and the low
 * bits (which pick a slot of its index) depend on every byte.
 */
final class KeyHash {

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long MULTIPLIER = 0x9E3779B97F4A7C15L;

    private KeyHash() {
    }

    /** The hash of the first {@code length} bytes of {@code key}. */
    static long hash(byte[] key, int length) {
        long hash = length * MULTIPLIER;
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            hash = (hash ^ mix((long) LONGS.get(key, i))) * MULTIPLIER;
        }
        long tail = 0;
        for (; i < length; i++) {
            tail = tail << 8 | (key[i] & 0xff);
        }
        return mix((hash ^ mix(tail)) * MULTIPLIER);
    }

    /** MurmurHash3's 64-bit finalizer: every input bit flips about half the output bits. */
    static long mix(long x) {
        x = (x ^ (x >>> 33)) * 0xff51afd7ed558ccdL;
        x = (x ^ (x >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return x ^ (x >>> 33);
    }
}
