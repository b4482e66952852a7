# The tokenizer tests also run the `vigil tokenize` / `vigil detokenize` commands.
if(TARGET test_tokenizer)
  add_dependencies(test_tokenizer vigil)
endif()
