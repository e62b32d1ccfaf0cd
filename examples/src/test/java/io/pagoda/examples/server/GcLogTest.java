package io.pagoda.examples.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Counting the pauses of an -Xlog:gc file. */
class GcLogTest {

    private static final String LOG = """
            [0.008s][info][gc] Using G1
            [1.809s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 15M->2M(64M) 12.699ms
            [2.820s][info][gc] GC(1) Pause Full (System.gc()) 23M->3M(14M) 62.268ms
            [3.100s][info][gc] GC(2) Pause Young (Concurrent Start) (G1 Humongous Allocation) 9M->8M(14M) 1.000ms
            [3.150s][info][gc] GC(3) Pause Remark 9M->9M(14M) 0.500ms
            [3.200s][info][gc] GC(3) Pause Cleanup 9M->9M(14M) 0.100ms
            [3.300s][info][gc] GC(3) Concurrent Mark Cycle 150.000ms
            """;

    @Test
    void countsEveryKindOfPauseAndLeavesConcurrentPhasesOut() {
        GcLog.Pauses pauses = GcLog.pauses(LOG);
        assertEquals(5, pauses.count());
        assertEquals(12.699 + 62.268 + 1.0 + 0.5 + 0.1, pauses.totalMillis(), 1e-9);
    }

    @Test
    void countsOnlyThePausesLoggedAfterTheOffset(@TempDir Path directory) throws Exception {
        GcLog log = new GcLog(directory.resolve("gc.log"));
        assertEquals(0, log.size(), "no file yet: nothing logged");
        String warmUp = LOG.lines().limit(2).map(line -> line + "\n").reduce("", String::concat);
        Files.writeString(directory.resolve("gc.log"), warmUp);
        long offset = log.size();
        Files.writeString(directory.resolve("gc.log"), LOG);
        assertEquals(4, log.pausesSince(offset).count());
    }
}
