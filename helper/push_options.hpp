// kafka-stream-push's command line and site configuration, resolved into plain values (no I/O except what the
// caller passes in), so every rule is unit-tested: the command line (push_command_line.hpp), the settings
// (push_settings.hpp), the producer's librdkafka properties and message size budgets (producer_config.hpp) and the
// job identity (job_identity.hpp).
#pragma once
#include "job_identity.hpp"
#include "producer_config.hpp"
#include "push_command_line.hpp"
#include "push_settings.hpp"
// What the options name: the wire format and the contract with the plugin.
#include "push_contract.hpp"
#include "wire_format.hpp"
