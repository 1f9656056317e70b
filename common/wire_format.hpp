// The wire format (version 2) shared by kafka-stream-push and kafka-stream-sink, see ARCHITECTURE.md, "Wire format":
// the messages' headers (wire_headers.hpp), the JSON of the open and manifest messages (manifest_json.hpp) and the
// text codecs both use (text_codec.hpp). Code that needs only one of them includes that one.
#pragma once
#include "companion_topic.hpp"
#include "manifest_json.hpp"
#include "text_codec.hpp"
#include "wire_headers.hpp"
