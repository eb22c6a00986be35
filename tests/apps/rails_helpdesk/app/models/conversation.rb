class Conversation < ApplicationRecord
  belongs_to :initiator, class_name: "User"
  belongs_to :assigned_expert, class_name: "User", optional: true
  has_many :messages, dependent: :destroy
  validates :title, presence: true

  def self.queue_json(expert, since)
    waiting = where(status: "waiting", assigned_expert_id: nil)
    assigned = where(assigned_expert_id: expert.id)
    if since
      waiting = waiting.where("updated_at > ?", since)
      assigned = assigned.where("updated_at > ?", since)
    end
    {
      waitingConversations: waiting.order(:created_at).map { |c| c.as_api_json(expert) },
      assignedConversations: assigned.order(updated_at: :desc).map { |c| c.as_api_json(expert) }
    }
  end

  def visible_to?(user)
    initiator_id == user.id || assigned_expert_id == user.id
  end

  # One query per conversation for the unread count, as the course's apps do.
  def as_api_json(viewer)
    {
      id: id.to_s, title: title, status: status,
      questionerId: initiator_id.to_s, questionerUsername: initiator.username,
      assignedExpertId: assigned_expert_id&.to_s, assignedExpertUsername: assigned_expert&.username,
      createdAt: ApplicationRecord.iso(created_at), updatedAt: ApplicationRecord.iso(updated_at),
      lastMessageAt: ApplicationRecord.iso(last_message_at),
      unreadCount: messages.where(is_read: false).where.not(sender_id: viewer.id).count
    }
  end
end
