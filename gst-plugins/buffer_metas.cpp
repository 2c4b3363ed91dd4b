// SPDX-License-Identifier: MIT
// GstMetas to and from the per-frame metadata format (see buffer_metas.h).
#include "buffer_metas.h"

#include <algorithm>
#include <vector>

#include <gst/video/video.h>

namespace zerobuffer::gst {

namespace {

constexpr std::size_t kMaxCachedCaps = 16;
constexpr const char* kCommitReference = "timestamp/x-zerobuffer-commit";

struct GFreeDeleter {
    void operator()(gchar* text) const noexcept { g_free(text); }
};
using GText = std::unique_ptr<gchar, GFreeDeleter>;

std::string structure_text(const GstStructure* structure)
{
    const GText text(gst_structure_to_string(structure));
    return text ? std::string(text.get()) : std::string();
}

frame_meta::RegionOfInterest region_of(const GstVideoRegionOfInterestMeta& meta)
{
    frame_meta::RegionOfInterest region;
    const gchar* type = g_quark_to_string(meta.roi_type);
    region.type = type != nullptr ? type : "";
    region.id = meta.id;
    region.parent_id = meta.parent_id;
    region.x = meta.x;
    region.y = meta.y;
    region.w = meta.w;
    region.h = meta.h;
    for (const GList* param = meta.params; param != nullptr; param = param->next)
        region.params.push_back(structure_text(static_cast<const GstStructure*>(param->data)));
    return region;
}

frame_meta::TimeCode timecode_of(const GstVideoTimeCode& tc)
{
    frame_meta::TimeCode timecode;
    timecode.fps_n = static_cast<std::uint32_t>(tc.config.fps_n);
    timecode.fps_d = static_cast<std::uint32_t>(tc.config.fps_d);
    timecode.flags = static_cast<std::uint32_t>(tc.config.flags);
    timecode.hours = tc.hours;
    timecode.minutes = tc.minutes;
    timecode.seconds = tc.seconds;
    timecode.frames = tc.frames;
    timecode.field_count = tc.field_count;
    if (tc.config.latest_daily_jam != nullptr) {
        const GText jam(g_date_time_format_iso8601(tc.config.latest_daily_jam));
        timecode.daily_jam = jam ? jam.get() : "";
    }
    return timecode;
}

// The user meta's bytes, if the structure holds them in its "data" field.
std::optional<std::vector<std::byte>> user_bytes_of(GstCustomMeta* meta)
{
    const GstStructure* structure = gst_custom_meta_get_structure(meta);
    const GValue* value = gst_structure_get_value(structure, "data");
    if (value == nullptr || !G_VALUE_HOLDS(value, G_TYPE_BYTES))
        return std::nullopt;
    auto* bytes = static_cast<GBytes*>(g_value_get_boxed(value));
    gsize size = 0;
    const auto* data = static_cast<const std::byte*>(bytes != nullptr ? g_bytes_get_data(bytes, &size) : nullptr);
    return std::vector<std::byte>(data, data + size);
}

gboolean copy_field(GQuark field, const GValue* value, gpointer target)
{
    gst_structure_id_set_value(static_cast<GstStructure*>(target), field, value);
    return TRUE;
}

void note(std::string& skipped, const std::string& what)
{
    if (!skipped.empty())
        skipped += "; ";
    skipped += what;
}

void attach_region(GstBuffer* buffer, const frame_meta::RegionOfInterest& region, std::string& skipped)
{
    if (region.type.empty() || region.type.size() > 256 || region.type.find('\0') != std::string::npos) {
        note(skipped, "a region of interest without a usable type");
        return;
    }
    std::vector<GstStructure*> params;
    for (const std::string& text : region.params) {
        GstStructure* param = gst_structure_from_string(text.c_str(), nullptr);
        if (param == nullptr) {
            note(skipped, "a parameter of region '" + region.type + "' that does not parse: " + text.substr(0, 80));
            continue;
        }
        params.push_back(param);
    }
    GstVideoRegionOfInterestMeta* meta = gst_buffer_add_video_region_of_interest_meta(
        buffer, region.type.c_str(), region.x, region.y, region.w, region.h);
    meta->id = region.id;
    meta->parent_id = region.parent_id;
    for (GstStructure* param : params)
        gst_video_region_of_interest_meta_add_param(meta, param); // Takes ownership.
}

void attach_timecode(GstBuffer* buffer, const frame_meta::TimeCode& timecode, std::string& skipped)
{
    GDateTime* jam = nullptr;
    if (!timecode.daily_jam.empty())
        jam = g_date_time_new_from_iso8601(timecode.daily_jam.c_str(), nullptr); // nullptr if it does not parse.
    GstVideoTimeCode tc;
    gst_video_time_code_init(&tc, static_cast<guint>(timecode.fps_n), static_cast<guint>(timecode.fps_d), jam,
                             static_cast<GstVideoTimeCodeFlags>(timecode.flags), timecode.hours, timecode.minutes,
                             timecode.seconds, timecode.frames, timecode.field_count);
    if (jam != nullptr)
        g_date_time_unref(jam); // tc holds its own reference.
    if (timecode.fps_d == 0 || !gst_video_time_code_is_valid(&tc))
        note(skipped, "an invalid timecode");
    else
        gst_buffer_add_video_time_code_meta(buffer, &tc);
    gst_video_time_code_clear(&tc);
}

} // namespace

void register_user_meta()
{
    if (gst_meta_get_info(kUserMetaName) != nullptr)
        return;
    static const gchar* tags[] = {nullptr}; // No tags: transforms (videoconvert, scalers) copy it.
    gst_meta_register_custom(kUserMetaName, tags, nullptr, nullptr, nullptr);
}

void collect_metas(GstBuffer* buffer, frame_meta::FrameMeta& meta)
{
    gpointer state = nullptr;
    while (GstMeta* item = gst_buffer_iterate_meta(buffer, &state)) {
        const GType api = item->info->api;
        if (api == GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE) {
            meta.regions.push_back(region_of(*reinterpret_cast<GstVideoRegionOfInterestMeta*>(item)));
        } else if (api == GST_VIDEO_TIME_CODE_META_API_TYPE) {
            meta.timecode = timecode_of(reinterpret_cast<GstVideoTimeCodeMeta*>(item)->tc);
        } else if (api == GST_REFERENCE_TIMESTAMP_META_API_TYPE) {
            const auto* reference = reinterpret_cast<GstReferenceTimestampMeta*>(item);
            const GText caps(gst_caps_to_string(reference->reference));
            if (!caps || std::string_view(caps.get()) == kCommitReference)
                continue;
            meta.references.push_back({caps.get(), reference->timestamp, reference->duration});
        } else if (gst_meta_info_is_custom(item->info)) {
            auto* custom = reinterpret_cast<GstCustomMeta*>(item);
            const GstStructure* structure = gst_custom_meta_get_structure(custom);
            const std::string name = gst_structure_get_name(structure);
            if (name == kUserMetaName) {
                if (auto bytes = user_bytes_of(custom))
                    meta.user_data = std::move(*bytes);
            } else {
                meta.custom.push_back({name, structure_text(structure)});
            }
        }
    }
}

MetaAttacher::~MetaAttacher()
{
    for (auto& [text, caps] : caps_)
        gst_caps_unref(caps);
}

GstCaps* MetaAttacher::reference_caps(const std::string& text)
{
    if (const auto found = caps_.find(text); found != caps_.end())
        return found->second;
    GstCaps* caps = gst_caps_from_string(text.c_str());
    if (caps == nullptr)
        return nullptr;
    if (caps_.size() >= kMaxCachedCaps) { // A writer that names ever new references: forget the old ones.
        for (auto& [old_text, old_caps] : caps_)
            gst_caps_unref(old_caps);
        caps_.clear();
    }
    caps_.emplace(text, caps);
    return caps;
}

void MetaAttacher::attach(GstBuffer* buffer, const frame_meta::FrameMeta& meta, std::string& skipped)
{
    // Metas are added in the writer's order: a buffer lists them in the order they were added.
    for (const frame_meta::RegionOfInterest& region : meta.regions)
        attach_region(buffer, region, skipped);
    if (meta.timecode)
        attach_timecode(buffer, *meta.timecode, skipped);
    for (auto reference = meta.references.begin(); reference != meta.references.end(); ++reference) {
        GstCaps* caps = reference_caps(reference->reference);
        if (caps == nullptr) {
            note(skipped, "reference timestamp caps that do not parse: " + reference->reference.substr(0, 80));
            continue;
        }
        gst_buffer_add_reference_timestamp_meta(buffer, caps, reference->timestamp, reference->duration);
    }
    for (auto custom = meta.custom.begin(); custom != meta.custom.end(); ++custom) {
        const GstMetaInfo* info = gst_meta_get_info(custom->name.c_str());
        if (info == nullptr || !gst_meta_info_is_custom(info)) {
            if (unknown_custom_.size() < frame_meta::kMaxItems && unknown_custom_.insert(custom->name).second)
                note(skipped, "custom meta '" + custom->name.substr(0, 80) +
                                  "', which this process has not registered (gst_meta_register_custom)");
            continue;
        }
        GstStructure* fields = gst_structure_from_string(custom->structure.c_str(), nullptr);
        if (fields == nullptr) {
            note(skipped, "custom meta '" + custom->name + "' whose fields do not parse");
            continue;
        }
        GstCustomMeta* added = gst_buffer_add_custom_meta(buffer, custom->name.c_str());
        if (added != nullptr)
            gst_structure_foreach(fields, copy_field, gst_custom_meta_get_structure(added));
        gst_structure_free(fields);
    }
    if (meta.user_data) {
        GstCustomMeta* added = gst_buffer_add_custom_meta(buffer, kUserMetaName);
        if (added != nullptr) {
            GBytes* bytes = g_bytes_new(meta.user_data->data(), meta.user_data->size());
            gst_structure_set(gst_custom_meta_get_structure(added), "data", G_TYPE_BYTES, bytes, nullptr);
            g_bytes_unref(bytes);
        }
    }
}

} // namespace zerobuffer::gst
