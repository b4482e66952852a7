// Operator phrases for the speech round trip (tests and bench/speech): what an operator says to
// the system about zones, counts, time windows, alerts and acknowledgements. Every phrase is in
// the grammar of default_vocabulary(), written exactly as the recogniser should return it.
#pragma once

#include <array>
#include <string_view>

namespace vigil::speech::testing {

inline constexpr std::array<std::string_view, 45> kOperatorPhrases = {
    // presence in zones
    "is there anyone in the back yard",
    "is there a car in the driveway",
    "was there a truck at the loading dock last night",
    "is there a package at the front door",
    "are there any people in the parking lot",
    "who is at the front door",
    "what is happening in the garage",
    "what happened at the side gate this morning",
    "describe the loading dock",
    "show me the driveway",
    // counts
    "how many people are in the parking lot",
    "how many cars were in the driveway today",
    "how many trucks were there at the loading dock yesterday",
    "how many dogs were in the back yard in the last hour",
    "how many alerts were there today",
    "how many people were at the front door in the last ten minutes",
    "how many bicycles are there near the garage",
    "how many events in the last two hours",
    // time windows
    "what happened in the back yard in the past thirty minutes",
    "were there any people at the side gate since midnight",
    "has anyone been in the garage today",
    "were there any cats in the back yard last night",
    "what changed in the parking lot since six o'clock",
    "summarize the last hour",
    "give me a summary of today",
    "summarize yesterday",
    "when was the last person at the side gate",
    "when was the last alert",
    "when did someone last visit the driveway",
    // alerts
    "show me the latest alerts",
    "list the recent alerts in the parking lot",
    "show me the loitering alerts at the side gate",
    "are there any intrusion alerts tonight",
    "how many line crossing alerts were there this week",
    "tell me the new events",
    "show alerts in the back yard during the past few hours",
    // acknowledgements and control
    "acknowledge alert number three",
    "dismiss alert twelve",
    "acknowledge all alerts",
    "clear the last alert",
    "close alert number forty two",
    "mute alerts for thirty minutes",
    "silence all the alerts for an hour",
    "resume alerts",
    "never mind",
};

}  // namespace vigil::speech::testing
