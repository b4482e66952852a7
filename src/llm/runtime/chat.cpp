#include "llm/runtime/chat.h"

#include "base/error.h"

namespace vigil {

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
  if (name == "llama2") return ChatFormat::Llama2;
  if (name == "llama3") return ChatFormat::Llama3;
  if (name == "chatml" || name == "qwen" || name == "qwen2") return ChatFormat::ChatML;
  if (name == "phi3") return ChatFormat::Phi3;
  if (name == "mistral") return ChatFormat::Mistral;
  if (name == "gemma") return ChatFormat::Gemma;
  return std::nullopt;
}

std::string_view chat_format_name(ChatFormat format) {
  switch (format) {
    case ChatFormat::Llama2:
      return "llama2";
    case ChatFormat::Llama3:
      return "llama3";
    case ChatFormat::ChatML:
      return "chatml";
    case ChatFormat::Phi3:
      return "phi3";
    case ChatFormat::Mistral:
      return "mistral";
    case ChatFormat::Gemma:
      return "gemma";
  }
  return "?";
}

std::optional<ChatFormat> detect_chat_format(std::string_view t) {
  auto has = [&](std::string_view s) { return t.find(s) != std::string_view::npos; };
  if (has("<|start_header_id|>")) return ChatFormat::Llama3;
  if (has("<|im_start|>")) return ChatFormat::ChatML;
  if (has("<|assistant|>") && has("<|end|>")) return ChatFormat::Phi3;
  if (has("<start_of_turn>")) return ChatFormat::Gemma;
  if (has("[INST]")) return has("<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
  return std::nullopt;
}

std::string render_chat(ChatFormat format, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_text) {
  for (const auto& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      fail("chat message role '{}' is not supported (expected system, user or assistant)", m.role);
    }
  }
  std::string out;
  // System text for the families without a system role (folded into the first user turn).
  std::string system;
  bool first_user = true;
  switch (format) {
    case ChatFormat::ChatML:
      for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case ChatFormat::Llama3:
      out += bos_text;
      for (const auto& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatFormat::Phi3:
      for (const auto& m : messages) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      if (add_generation_prompt) out += "<|assistant|>\n";
      break;
    case ChatFormat::Gemma:
      out += bos_text;
      for (const auto& m : messages) {
        if (m.role == "system") {
          system = m.content;
          continue;
        }
        std::string content = m.content;
        if (m.role == "user" && first_user && !system.empty()) content = system + "\n\n" + content;
        if (m.role == "user") first_user = false;
        out += "<start_of_turn>" + std::string(m.role == "assistant" ? "model" : "user") + "\n" +
               content + "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      break;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
      // [INST] user [/INST] assistant</s>; llama2 wraps the system prompt in <<SYS>> inside the
      // first turn, mistral prepends it to the first user message.
      for (const auto& m : messages) {
        if (m.role == "system") {
          system = m.content;
        } else if (m.role == "user") {
          std::string content = m.content;
          if (first_user && !system.empty()) {
            content = format == ChatFormat::Llama2
                          ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
                          : system + "\n\n" + content;
          }
          first_user = false;
          out += std::string(bos_text) + "[INST] " + content + " [/INST]";
        } else {
          out += " " + m.content + "</s>";
        }
      }
      break;
  }
  return out;
}

}  // namespace vigil
