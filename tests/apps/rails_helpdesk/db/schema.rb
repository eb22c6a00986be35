ActiveRecord::Schema.define(version: 2025_11_01_000000) do
  create_table "users", charset: "utf8mb4", force: :cascade do |t|
    t.string "username", null: false
    t.string "password_digest", null: false
    t.datetime "last_active_at", precision: 6
    t.timestamps precision: 6
    t.index ["username"], unique: true
  end

  create_table "expert_profiles", charset: "utf8mb4", force: :cascade do |t|
    t.bigint "user_id", null: false
    t.text "bio"
    t.text "knowledge_base_links"
    t.timestamps precision: 6
    t.index ["user_id"], unique: true
  end

  create_table "conversations", charset: "utf8mb4", force: :cascade do |t|
    t.string "title", null: false
    t.string "status", null: false, default: "waiting"
    t.bigint "initiator_id", null: false
    t.bigint "assigned_expert_id"
    t.datetime "last_message_at", precision: 6
    t.timestamps precision: 6
    t.index ["initiator_id"]
    t.index ["assigned_expert_id"]
    t.index ["status"]
  end

  create_table "messages", charset: "utf8mb4", force: :cascade do |t|
    t.bigint "conversation_id", null: false
    t.bigint "sender_id", null: false
    t.string "sender_role", null: false
    t.text "content", null: false
    t.boolean "is_read", null: false, default: false
    t.timestamps precision: 6
    t.index ["conversation_id"]
  end

  create_table "expert_assignments", charset: "utf8mb4", force: :cascade do |t|
    t.bigint "conversation_id", null: false
    t.bigint "expert_id", null: false
    t.string "status", null: false
    t.datetime "assigned_at", precision: 6, null: false
    t.datetime "resolved_at", precision: 6
    t.timestamps precision: 6
  end
end
