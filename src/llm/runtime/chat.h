// Chat templates: the common families, detected from the GGUF `tokenizer.chat_template` text
// (or chosen by name with --chat-template), rendered natively — no Jinja interpreter.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

enum class ChatFormat { Llama2, Llama3, ChatML, Phi3, Mistral, Gemma };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// "llama2", "llama3", "chatml" (also "qwen"), "phi3", "mistral", "gemma"; nullopt if unknown.
std::optional<ChatFormat> chat_format_from_name(std::string_view name);
std::string_view chat_format_name(ChatFormat format);
// Detects the family from a Jinja template's text; nullopt when it matches none.
std::optional<ChatFormat> detect_chat_format(std::string_view jinja_template);

// Renders messages into the prompt text. `add_generation_prompt` appends the assistant header
// so the model continues as the assistant. `bos_text` is the BOS token text the template writes
// itself (llama2/llama3/mistral/gemma templates do; the tokenizer must then not add another).
std::string render_chat(ChatFormat format, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_text);

}  // namespace vigil
