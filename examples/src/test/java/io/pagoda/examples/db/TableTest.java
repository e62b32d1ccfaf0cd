package io.pagoda.examples.db;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The table on every back end: what is put reads back, whichever the memory. */
class TableTest {

    private static final int RECORDS = 20_000;

    private final byte[] key = new byte[Workload.MAX_KEY_BYTES];
    private final byte[] value = new byte[Workload.MAX_VALUE_BYTES];
    private final byte[] expected = new byte[Workload.MAX_VALUE_BYTES];

    @ParameterizedTest
    @EnumSource(Backend.class)
    void everyLoadedKeyReadsBackItsLatestValueAfterRandomUpdates(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = new Table("orders", storage, 16, RECORDS);
            int[] versions = new int[RECORDS];
            Workload.load(table, RECORDS, key, value);
            SplittableRandom random = new SplittableRandom(7);
            for (int n = 0; n < RECORDS; n++) {
                int i = random.nextInt(RECORDS);
                versions[i]++;
                table.put(key, Workload.key(i, key), value, Workload.value(i, versions[i], value));
            }
            assertEquals(RECORDS, table.size(), "an update adds no key");
            for (int i = 0; i < RECORDS; i++) {
                assertHolds(table, i, versions[i]);
            }
            table.drop();
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void theIndexGrowsPastTheSizeTheTableExpectedAndKeepsEveryKey(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = new Table("small", storage, 2, 10);
            Workload.load(table, RECORDS, key, value);
            for (int i = 0; i < RECORDS; i++) {
                assertHolds(table, i, 0);
            }
            table.drop();
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aKeyNeverPutIsNotFound(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = new Table("orders", storage, 4, 100);
            Workload.load(table, 100, key, value);
            assertEquals(Table.NOT_FOUND, table.get(key, Workload.key(100, key), value));
            assertEquals(Table.NOT_FOUND, table.get(key, 0, value), "the empty key");
            table.drop();
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void anotherThreadReadsWhatOneThreadLoaded(Backend backend) throws InterruptedException {
        try (Storage storage = backend.open()) {
            Table table = new Table("orders", storage, 4, 1000);
            Workload.load(table, 1000, key, value);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    TableTest other = new TableTest();
                    for (int i = 0; i < 1000; i++) {
                        other.assertHolds(table, i, 0);
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            reader.join();
            assertNull(failure.get(), () -> "the reader failed: " + failure.get());
            table.drop();
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aValueLongerThanTheDestinationIsRefused(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = new Table("orders", storage, 1, 1);
            table.put(key, Workload.key(0, key), value, 100);
            assertThrows(IllegalArgumentException.class, () -> table.get(key, Workload.key(0, key), new byte[99]));
            table.drop();
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aSecondDropIsRefused(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = new Table("orders", storage, 2, 10);
            table.drop();
            assertThrows(IllegalStateException.class, table::drop);
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void aSegmentCountThatIsNotAPowerOfTwoIsRefused(Backend backend) {
        try (Storage storage = backend.open()) {
            assertThrows(IllegalArgumentException.class, () -> new Table("orders", storage, 3, 10));
            assertThrows(IllegalArgumentException.class, () -> new Table("orders", storage, 0, 10));
        }
    }

    private void assertHolds(Table table, int i, int version) {
        int length = table.get(key, Workload.key(i, key), value);
        int expectedLength = Workload.value(i, version, expected);
        assertEquals(expectedLength, length, "length of record " + i + "'s value");
        assertArrayEquals(Arrays.copyOf(expected, expectedLength), Arrays.copyOf(value, length),
                "record " + i + " holds version " + version);
    }
}
