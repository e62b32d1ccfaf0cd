package io.pagoda.examples.db;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The data every back end stores, the same bytes for all: record {@code i}'s key is
 * {@code customer/<i mod 1000>/order/<i>} (18 ASCII bytes for record 0, 26 for record 3,999,999),
 * and version {@code v} of its value is 16 to 200 pseudo-random bytes, length and contents both a
 * function of {@code (i, v)}, so that any value read back can be checked without keeping a copy.
 */
final class Workload {

    static final int MAX_KEY_BYTES = 40;
    static final int MIN_VALUE_BYTES = 16;
    static final int MAX_VALUE_BYTES = 200;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final byte[] CUSTOMER = "customer/".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] ORDER = "/order/".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final int CUSTOMERS = 1000;

    private Workload() {
    }

    /** Writes record {@code i}'s key into {@code destination} (at least {@value #MAX_KEY_BYTES} bytes), and returns its length. */
    static int key(long i, byte[] destination) {
        if (i < 0) {
            throw new IllegalArgumentException("record numbers are not negative: " + i);
        }
        System.arraycopy(CUSTOMER, 0, destination, 0, CUSTOMER.length);
        int at = writeDigits(i % CUSTOMERS, destination, CUSTOMER.length);
        System.arraycopy(ORDER, 0, destination, at, ORDER.length);
        return writeDigits(i, destination, at + ORDER.length);
    }

    /**
     * Writes version {@code version} of record {@code i}'s value into {@code destination} (at least
     * {@value #MAX_VALUE_BYTES} bytes), and returns its length.
     */
    static int value(long i, int version, byte[] destination) {
        long seed = KeyHash.mix(i * 0x100000001B3L + version);
        int length = MIN_VALUE_BYTES + (int) Long.remainderUnsigned(seed, MAX_VALUE_BYTES - MIN_VALUE_BYTES + 1);
        // Whole words up to the length: MAX_VALUE_BYTES is a multiple of 8, so the last one fits.
        for (int at = 0; at < length; at += Long.BYTES) {
            LONGS.set(destination, at, KeyHash.mix(seed + at));
        }
        return length;
    }

    /**
     * Puts records 0 to {@code records - 1} into {@code table}, each in its first version (0), with
     * {@code key} and {@code value} as the buffers.
     */
    static void load(Table table, long records, byte[] key, byte[] value) {
        for (long i = 0; i < records; i++) {
            table.put(key, key(i, key), value, value(i, 0, value));
        }
    }

    private static int writeDigits(long value, byte[] destination, int at) {
        int digits = 1;
        for (long rest = value / 10; rest > 0; rest /= 10) {
            digits++;
        }
        for (int i = at + digits - 1; i >= at; i--) {
            destination[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        return at + digits;
    }
}
