# Link dependencies of vigil_vision: OpenCV (videoio with FFmpeg for sources, objdetect for the
# HOG people detector, dnn for ONNX YOLO models, video for MOG2), yaml-cpp for the zone/rule
# configuration, nlohmann-json for events. OpenCV's headers are public (cv::Mat is in the API).
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs video videoio objdetect dnn)
find_package(yaml-cpp REQUIRED)
if(TARGET vigil_vision)
  get_target_property(_vigil_vision_type vigil_vision TYPE)
  if(NOT _vigil_vision_type STREQUAL "INTERFACE_LIBRARY")
    target_link_libraries(vigil_vision
      PUBLIC opencv_core opencv_imgproc opencv_imgcodecs opencv_video opencv_videoio
             opencv_objdetect opencv_dnn nlohmann_json::nlohmann_json Threads::Threads
      PRIVATE yaml-cpp)
  endif()
endif()
