package io.pagoda.examples.db;

import io.pagoda.PageAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Dropping a table: everything given back at once, and nothing reachable afterwards. */
class DropTableTest {

    private static final int RECORDS = 50_000;

    private final byte[] key = new byte[Workload.MAX_KEY_BYTES];
    private final byte[] value = new byte[Workload.MAX_VALUE_BYTES];

    @Test
    void droppingATableGivesEveryAllocationBackToThePagodaAllocator() {
        try (PageAllocator pages = PageAllocator.builder().capacity(1L << 30).debug(true).build()) {
            Table table = load(Storage.pagoda(pages), RECORDS);
            assertTrue(pages.allocatedBytes() > 0);
            assertFalse(pages.leakReport().isEmpty(), "the debug mode sees the table's blocks while it lives");

            table.drop();

            assertEquals("", pages.leakReport(), "no allocation left live");
            assertEquals(0, pages.allocatedBytes());
            pages.trim();
            assertEquals(pages.capacity(), pages.freeBytes(), "every frame back in the free lists");
        }
    }

    @Test
    void aDroppedTablesMemoryServesTheNextTable() {
        try (PageAllocator pages = PageAllocator.builder().capacity(32L << 20).build()) {
            for (int round = 0; round < 10; round++) {
                load(Storage.pagoda(pages), RECORDS).drop(); // one table fits in 32 MiB, ten would not
            }
            assertEquals(0, pages.allocatedBytes());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Backend.class, names = {"PAGODA", "JDK_ARENA"})
    void aDroppedTablesSegmentsAreClosedToTheJdksScopeCheck(Backend backend) {
        try (Storage storage = backend.open()) {
            Table table = load(storage, 1000);

            table.drop();

            for (int segment = 0; segment < table.segments(); segment++) {
                ArenaMemory memory = assertInstanceOf(ArenaMemory.class, table.segmentMemory(segment));
                assertFalse(memory.scope().isAlive(), "segment " + segment + "'s scope is closed");
                assertThrows(IllegalStateException.class, () -> memory.getLong(8, 0), "any address, once closed");
            }
            assertThrows(IllegalStateException.class, () -> table.get(key, Workload.key(0, key), value));
        }
    }

    @Test
    void aDroppedHeapTableRefusesReads() {
        Table table = load(Storage.heap(), 1000);

        table.drop();

        assertThrows(IllegalStateException.class, () -> table.get(key, Workload.key(0, key), value));
    }

    private Table load(Storage storage, int records) {
        Table table = new Table("orders", storage, 16, records);
        Workload.load(table, records, key, value);
        return table;
    }
}
