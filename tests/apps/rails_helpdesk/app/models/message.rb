class Message < ApplicationRecord
  belongs_to :conversation
  belongs_to :sender, class_name: "User"
  validates :content, presence: true

  def as_api_json
    { id: id.to_s, conversationId: conversation_id.to_s, senderId: sender_id.to_s,
      senderUsername: sender.username, senderRole: sender_role, content: content,
      timestamp: ApplicationRecord.iso(created_at), isRead: is_read }
  end
end
