package io.pagoda.examples.db;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The benchmark's own plumbing: same data on every back end, results that survive the trip between JVMs. */
class StorageComparisonTest {

    @Test
    void everyBackEndReadsTheSameValuesInAShortRun() {
        List<Measurements> results = Arrays.stream(Backend.values()).map(b -> TableBenchmark.run(b, 5_000)).toList();

        for (Measurements result : results) {
            assertEquals(results.getFirst().checksum(), result.checksum(), result.backend());
            assertTrue(result.loadPerSecond() > 0 && result.getPerSecond() > 0 && result.updatePerSecond() > 0);
        }
        String table = StorageComparison.table(results);
        assertTrue(table.contains("| 5,000 records | pagoda | jdk-arena | heap |"), table);
    }

    @Test
    void noSegmentHoldsMoreRecordsThanItsIndexFitsInOnePagodaBlock() {
        assertEquals(TableBenchmark.MIN_SEGMENTS, TableBenchmark.segmentsFor(1));
        assertEquals(16, TableBenchmark.segmentsFor(16 * TableBenchmark.MAX_SEGMENT_RECORDS));
        assertEquals(32, TableBenchmark.segmentsFor(16 * TableBenchmark.MAX_SEGMENT_RECORDS + 1));
        assertEquals(32, TableBenchmark.segmentsFor(4_000_000));
    }

    @Test
    void aResultLineParsesBackToTheSameMeasurements() {
        Measurements measured = new Measurements("pagoda", 10, 1.5, 2.5, 3.5, 0.25, 12.0, 4.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12);

        assertEquals(measured, Measurements.parse(measured.toLine()));
    }

    @Test
    void recordCountsTakeThousandsAndMillions() {
        assertEquals(250_000, StorageComparison.parseCount("250k"));
        assertEquals(4_000_000, StorageComparison.parseCount("4M"));
        assertEquals(1_000, StorageComparison.parseCount("1_000"));
    }

    @Test
    void aCountThatIsNotPositiveOrNotANumberIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> StorageComparison.parseCount("0"));
        assertThrows(IllegalArgumentException.class, () -> StorageComparison.parseCount("-5k"));
        assertThrows(IllegalArgumentException.class, () -> StorageComparison.parseCount("many"));
    }

    @Test
    void anUnknownBackEndIsRefusedNamingTheKnownOnes() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Backend.of("rocksdb"));
        assertTrue(refused.getMessage().contains("pagoda, jdk-arena, heap"), refused.getMessage());
    }
}
