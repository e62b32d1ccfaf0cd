package io.pagoda.examples.server;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mains' --name value options. */
class OptionsTest {

    private static final Map<String, String> DEFAULTS = Map.of("duration", "15", "variants", "all");

    @Test
    void takesOptionsPassedAsOneArgumentAsTheExampleProfileDoes() {
        Options options = Options.parse(new String[] {" --duration 3  --variants nio-pagoda "}, DEFAULTS);
        assertEquals(3, options.integer("duration", 1));
        assertEquals("nio-pagoda", options.string("variants"));
    }

    @Test
    void keepsTheDefaultOfAnOptionNotGiven() {
        assertEquals(15, Options.parse(new String[0], DEFAULTS).integer("duration", 1));
    }

    @Test
    void refusesAnUnknownOptionNamingTheKnownOnes() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Options.parse(new String[] {"--durration", "3"}, DEFAULTS));
        assertTrue(refused.getMessage().contains("[--duration, --variants]"), refused.getMessage());
    }

    @Test
    void refusesAnIntegerBelowItsMinimumNamingTheOption() {
        Options options = Options.parse(new String[] {"--duration", "0"}, DEFAULTS);
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> options.integer("duration", 1));
        assertTrue(refused.getMessage().startsWith("--duration must be an integer of at least 1"), refused.getMessage());
    }
}
