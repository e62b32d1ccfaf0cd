package io.pagoda.examples.server;

import io.pagoda.PageAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What every server variant promises its clients, and Pagoda's variants promise Pagoda. */
class HttpServersTest {

    /** Not a power of two: a body no size class of any of the allocators fits exactly. */
    private static final int BODY_BYTES = 1500;

    private PageAllocator pages;
    private HttpServer server;

    @BeforeEach
    void setUp() {
        // The debug mode records every allocation, so that a buffer the server keeps shows up in leakReport().
        pages = PageAllocator.builder().capacity(64L << 20).debug(true).build();
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
        pages.close();
    }

    private int start(Variant variant) {
        server = variant.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), pages, BODY_BYTES, 2);
        return server.port();
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void answersAGetWithTheConfiguredBody(Variant variant) throws Exception {
        // The JDK's own HTTP client (java.base's, as the tests are patched into the examples module).
        HttpURLConnection get = (HttpURLConnection) URI.create("http://127.0.0.1:" + start(variant) + "/")
                .toURL().openConnection();
        try (InputStream body = get.getInputStream()) {
            assertEquals(200, get.getResponseCode());
            assertEquals("application/octet-stream", get.getContentType());
            assertArrayEquals(ResponseBody.of(BODY_BYTES), body.readAllBytes());
        } finally {
            get.disconnect();
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void keepsAnHttp11ConnectionOpenForTheNextRequest(Variant variant) throws Exception {
        try (RawHttpConnection connection = new RawHttpConnection(start(variant))) {
            for (int request = 0; request < 3; request++) {
                connection.send(RawHttpConnection.get(""));
                RawHttpConnection.Response response = connection.read();
                assertEquals(200, response.status());
                assertArrayEquals(ResponseBody.of(BODY_BYTES), response.body());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void answersPipelinedRequestsInOrder(Variant variant) throws Exception {
        try (RawHttpConnection connection = new RawHttpConnection(start(variant))) {
            connection.send(RawHttpConnection.get("") + RawHttpConnection.get("Connection: close\r\n"));
            RawHttpConnection.Response first = connection.read();
            RawHttpConnection.Response second = connection.read();
            assertEquals(200, first.status());
            assertFalse("close".equalsIgnoreCase(first.headers().get("connection")), "the first keeps the connection");
            assertEquals(200, second.status());
            assertEquals("close", second.headers().get("connection"));
            assertTrue(connection.closedByServer());
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void closesTheConnectionAfterAnsweringConnectionClose(Variant variant) throws Exception {
        try (RawHttpConnection connection = new RawHttpConnection(start(variant))) {
            connection.send(RawHttpConnection.get("Connection: close\r\n"));
            assertArrayEquals(ResponseBody.of(BODY_BYTES), connection.read().body());
            assertTrue(connection.closedByServer());
        }
    }

    @ParameterizedTest
    @EnumSource(Variant.class)
    void refusesAMethodOtherThanGetWith405AndCloses(Variant variant) throws Exception {
        try (RawHttpConnection connection = new RawHttpConnection(start(variant))) {
            connection.send("DELETE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            assertEquals(405, connection.read().status());
            assertTrue(connection.closedByServer());
        }
    }

    /**
     * Requests answered, one connection closed by the client and one still open when the server
     * stops: once stopped, the server holds no Pagoda memory at all.
     */
    @ParameterizedTest
    @EnumSource(value = Variant.class, names = {"NETTY_PAGODA", "NIO_PAGODA"})
    void givesEveryPagodaBufferBackOnceStopped(Variant variant) throws Exception {
        int port = start(variant);
        try (RawHttpConnection closed = new RawHttpConnection(port)) {
            closed.send(RawHttpConnection.get("") + RawHttpConnection.get(""));
            closed.read();
            closed.read();
        }
        try (RawHttpConnection open = new RawHttpConnection(port)) {
            open.send(RawHttpConnection.get(""));
            open.read();
            open.send("GET / HTTP/1.1\r\nHost: 12"); // half a request, kept in a read buffer
            awaitLiveAllocation();
            server.close();
        }
        pages.trim();
        assertEquals("", pages.leakReport(), "the debug mode's list of live allocations");
        assertEquals(pages.capacity(), pages.freeBytes(), "every byte back in the zones");
    }

    /** Waits until the server holds Pagoda memory: the debug mode lists every live allocation. */
    private void awaitLiveAllocation() throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (pages.leakReport().isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "the server never read the half request into Pagoda memory");
            Thread.sleep(10);
        }
    }
}
