# Decides GRAFT_WITH_CUDA from GRAFT_CUDA (AUTO|ON|OFF) and enables the CUDA language.
# The architecture list is overridable: -DCMAKE_CUDA_ARCHITECTURES="80;90".
set(GRAFT_WITH_CUDA OFF)
if(NOT GRAFT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90 CACHE STRING "CUDA architectures to build for")
    endif()
    enable_language(CUDA)
    # C++20 in .cu files too. CMake 3.25 does not know nvcc's flag for it (nvcc 12+ has -std=c++20)
    # and would stop at generate time, so it is told here.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    # cuDNN (the vendor baseline for convolution and batch norm) ships beside the toolkit, or
    # elsewhere named by CUDNN_ROOT (e.g. the nvidia-cudnn wheel's folder, whose library has only
    # its versioned name).
    find_library(GRAFT_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
                 HINTS ${CUDAToolkit_LIBRARY_DIR} $ENV{CUDNN_ROOT}/lib $ENV{CUDNN_ROOT}/lib64 REQUIRED)
    find_path(GRAFT_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDNN_ROOT}/include REQUIRED)
    set(GRAFT_WITH_CUDA ON)
  elseif(GRAFT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GRAFT_CUDA=ON but no CUDA compiler was found; install the CUDA toolkit or pass -DGRAFT_CUDA=OFF")
  endif()
endif()
message(STATUS "graft: CUDA backend ${GRAFT_WITH_CUDA}")
