// SPDX-License-Identifier: MIT
// Test metas and their description (see probe_metas.h).
#include "probe_metas.h"

#include <cstdio>

#include <gst/video/video.h>

namespace zbprobe {

namespace {

constexpr const char* kCustomName = "ZbProbeMeta";
constexpr const char* kUserName = "GstZeroBufferUserMeta"; // The plugin's, for an application's own bytes.

const GstMetaInfo* custom_info(const char* name)
{
    if (const GstMetaInfo* info = gst_meta_get_info(name)) {
        return info;
    }
    static const gchar* tags[] = {nullptr};
    return gst_meta_register_custom(name, tags, nullptr, nullptr, nullptr);
}

std::string text_of(gchar* owned)
{
    std::string text = owned != nullptr ? owned : "";
    g_free(owned);
    return text;
}

std::string hex(const guint8* data, gsize size)
{
    std::string text;
    char digits[3];
    for (gsize i = 0; i < size; ++i) {
        std::snprintf(digits, sizeof digits, "%02x", data[i]);
        text += digits;
    }
    return text;
}

} // namespace

void register_test_metas()
{
    (void)custom_info(kCustomName);
}

void add_test_metas(GstBuffer* buffer, std::uint64_t index)
{
    const auto frame = static_cast<gint>(index);
    GstVideoRegionOfInterestMeta* person = gst_buffer_add_video_region_of_interest_meta(
        buffer, "person", 10 + static_cast<guint>(index % 50), 20, 100, 200);
    person->id = 2 * frame;
    person->parent_id = -1; // a top-level region
    gst_video_region_of_interest_meta_add_param(person, gst_structure_new("detection", "label", G_TYPE_STRING, "person",
                                                                          "confidence", G_TYPE_DOUBLE, 0.875, "frame",
                                                                          G_TYPE_INT, frame, nullptr));
    GstVideoRegionOfInterestMeta* face = gst_buffer_add_video_region_of_interest_meta(buffer, "face", 40, 30, 20, 24);
    face->id = 2 * frame + 1;
    face->parent_id = person->id;
    gst_video_region_of_interest_meta_add_param(face, gst_structure_new("detection", "label", G_TYPE_STRING, "face",
                                                                        "confidence", G_TYPE_DOUBLE, 0.5, nullptr));

    GstCaps* reference = gst_caps_new_empty_simple("timestamp/x-zb-probe");
    gst_buffer_add_reference_timestamp_meta(buffer, reference, 1'000'000 * index, 1000);
    gst_caps_unref(reference);

    if (custom_info(kCustomName) != nullptr) {
        GstCustomMeta* custom = gst_buffer_add_custom_meta(buffer, kCustomName);
        gst_structure_set(gst_custom_meta_get_structure(custom), "frame", G_TYPE_INT, frame, "text", G_TYPE_STRING,
                          "probe", nullptr);
    }
    if (custom_info(kUserName) != nullptr) {
        const std::string bytes = "frame=" + std::to_string(index);
        GstCustomMeta* user = gst_buffer_add_custom_meta(buffer, kUserName);
        GBytes* data = g_bytes_new(bytes.data(), bytes.size());
        gst_structure_set(gst_custom_meta_get_structure(user), "data", G_TYPE_BYTES, data, nullptr);
        g_bytes_unref(data);
    }
}

std::string describe_metas(GstBuffer* buffer)
{
    std::string rois;
    std::string timecode;
    std::string refs;
    std::string custom;
    std::string user;
    gpointer state = nullptr;
    while (GstMeta* meta = gst_buffer_iterate_meta(buffer, &state)) {
        const GType api = meta->info->api;
        if (api == GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE) {
            const auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
            rois += (rois.empty() ? "" : ";") + std::string(g_quark_to_string(roi->roi_type)) + "#" +
                    std::to_string(roi->id) + "<" + std::to_string(roi->parent_id) + "@" + std::to_string(roi->x) +
                    "," + std::to_string(roi->y) + "," + std::to_string(roi->w) + "x" + std::to_string(roi->h);
            for (const GList* param = roi->params; param != nullptr; param = param->next) {
                rois += "{" + text_of(gst_structure_to_string(static_cast<const GstStructure*>(param->data))) + "}";
            }
        } else if (api == GST_VIDEO_TIME_CODE_META_API_TYPE) {
            timecode = text_of(gst_video_time_code_to_string(&reinterpret_cast<GstVideoTimeCodeMeta*>(meta)->tc));
        } else if (api == GST_REFERENCE_TIMESTAMP_META_API_TYPE) {
            const auto* reference = reinterpret_cast<GstReferenceTimestampMeta*>(meta);
            const std::string caps = text_of(gst_caps_to_string(reference->reference));
            if (caps == "timestamp/x-zerobuffer-commit") {
                continue;
            }
            refs += (refs.empty() ? "" : ";") + caps + ":" + std::to_string(reference->timestamp) + "+" +
                    std::to_string(reference->duration);
        } else if (gst_meta_info_is_custom(meta->info)) {
            GstStructure* structure = gst_custom_meta_get_structure(reinterpret_cast<GstCustomMeta*>(meta));
            if (gst_structure_has_name(structure, kUserName)) {
                const GValue* value = gst_structure_get_value(structure, "data");
                auto* bytes = value != nullptr && G_VALUE_HOLDS(value, G_TYPE_BYTES)
                                  ? static_cast<GBytes*>(g_value_get_boxed(value))
                                  : nullptr;
                gsize size = 0;
                const auto* data =
                    bytes != nullptr ? static_cast<const guint8*>(g_bytes_get_data(bytes, &size)) : nullptr;
                user = hex(data, size);
            } else {
                custom += (custom.empty() ? "" : ";") + text_of(gst_structure_to_string(structure));
            }
        }
    }
    std::string text;
    if (!rois.empty()) {
        text += " rois=[" + rois + "]";
    }
    if (!timecode.empty()) {
        text += " timecode=" + timecode;
    }
    if (!refs.empty()) {
        text += " refs=[" + refs + "]";
    }
    if (!custom.empty()) {
        text += " custom=[" + custom + "]";
    }
    if (!user.empty()) {
        text += " user=" + user;
    }
    return text;
}

} // namespace zbprobe
