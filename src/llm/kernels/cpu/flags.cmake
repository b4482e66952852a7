# Compile flags of the CPU kernel sources (included by src/llm/CMakeLists.txt).
#
# Each *_avx2.cpp / *_avx512.cpp / *_avx512bf16.cpp file is compiled for its instruction set and
# only ever called after a CPUID check (kernels/cpu/dispatch.cpp); everything else stays at the
# baseline ISA. -ffp-contract=off everywhere in the kernels: dequantization must be bit-identical
# across ISAs (a*b+c must not become an FMA in one build and not in another).
set(_vigil_kern_dir ${CMAKE_CURRENT_LIST_DIR})
file(GLOB _vigil_kern_all CONFIGURE_DEPENDS ${_vigil_kern_dir}/*.cpp)
list(APPEND _vigil_kern_all ${CMAKE_CURRENT_LIST_DIR}/../../quant/reference.cpp)
set_source_files_properties(${_vigil_kern_all} PROPERTIES COMPILE_OPTIONS "-ffp-contract=off")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_vigil_avx2 -mavx2 -mfma -mf16c)
  set(_vigil_avx512 ${_vigil_avx2} -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni)
  file(GLOB _vigil_kern_avx2 CONFIGURE_DEPENDS ${_vigil_kern_dir}/*_avx2.cpp)
  file(GLOB _vigil_kern_avx512 CONFIGURE_DEPENDS ${_vigil_kern_dir}/*_avx512.cpp)
  file(GLOB _vigil_kern_avx512bf16 CONFIGURE_DEPENDS ${_vigil_kern_dir}/*_avx512bf16.cpp)
  if(_vigil_kern_avx2)
    set_source_files_properties(${_vigil_kern_avx2} PROPERTIES
      COMPILE_OPTIONS "-ffp-contract=off;${_vigil_avx2}")
  endif()
  if(_vigil_kern_avx512)
    set_source_files_properties(${_vigil_kern_avx512} PROPERTIES
      COMPILE_OPTIONS "-ffp-contract=off;${_vigil_avx512}")
  endif()
  if(_vigil_kern_avx512bf16)
    set_source_files_properties(${_vigil_kern_avx512bf16} PROPERTIES
      COMPILE_OPTIONS "-ffp-contract=off;${_vigil_avx512};-mavx512bf16")
  endif()
endif()
