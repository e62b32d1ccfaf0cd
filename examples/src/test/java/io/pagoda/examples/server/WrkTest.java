package io.pagoda.examples.server;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading wrk's report (no wrk needed: the reports are ones it printed). */
class WrkTest {

    private static final String REPORT = """
            Running 2s test @ http://127.0.0.1:18081/
              1 threads and 4 connections
              Thread Stats   Avg      Stdev     Max   +/- Stdev
                Latency     1.88ms    6.88ms  71.63ms   95.84%
                Req/Sec    11.05k     6.48k   22.91k    65.00%
              Latency Distribution
                 50%  250.00us
                 75%  689.00us
                 90%    3.10ms
                 99%    1.20s
              22028 requests in 2.02s, 23.21MB read
            Requests/sec:  10926.22
            Transfer/sec:     11.51MB
            """;

    @Test
    void readsRequestsPerSecondAndPercentilesInMicroseconds() {
        Wrk.Result result = Wrk.parse(REPORT);
        assertEquals(10926.22, result.requestsPerSecond(), 1e-9);
        assertEquals(250.0, result.p50Micros(), 1e-9);
        assertEquals(3100.0, result.p90Micros(), 1e-9);
        assertEquals(1_200_000.0, result.p99Micros(), 1e-9);
        assertEquals(0, result.errors());
    }

    @Test
    void countsSocketErrorsAndNon2xxResponsesAsErrors() {
        String withErrors = REPORT.replace("  22028 requests", """
                  Socket errors: connect 1, read 2, write 3, timeout 4
                  Non-2xx or 3xx responses: 5
                  22028 requests""");
        assertEquals(15, Wrk.parse(withErrors).errors());
    }

    @Test
    void refusesAReportWithoutTheLatencyDistribution() {
        String withoutLatency = REPORT.replaceAll("(?m)^\\s+\\d+%.*\\n", "");
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> Wrk.parse(withoutLatency));
        assertTrue(refused.getMessage().contains("--latency"), refused.getMessage());
    }
}
